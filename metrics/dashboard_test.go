package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil/metrics"
)

// dashboardFile is the Grafana dashboard shipped for operators.
const dashboardFile = "grafana/vigil.json"

// exported returns the collector's metric names with their variable
// label names, from Describe (every metric, whatever the state).
func exported(t *testing.T, c prometheus.Collector) map[string][]string {
	t.Helper()
	re := regexp.MustCompile(`^Desc\{fqName: "([^"]+)",.*variableLabels: \{([^}]*)\}\}$`)
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	out := map[string][]string{}
	for d := range ch {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read %s", d)
		}
		var labels []string
		if m[2] != "" {
			labels = strings.Split(m[2], ",")
		}
		out[m[1]] = labels
	}
	return out
}

// query is a PromQL expression of the dashboard, where it is, and the
// legend it is shown with (none for a template variable's).
type query struct {
	expr, where, legend string
}

// dashboardQueries returns every PromQL expression of a Grafana
// dashboard: panel targets (rows' nested panels too) and template
// variable queries.
func dashboardQueries(t *testing.T, b []byte) []query {
	t.Helper()
	type target struct {
		Expr   string `json:"expr"`
		Legend string `json:"legendFormat"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q: target %d has no expr", p.Title, i)
				}
				out = append(out, query{expr: tg.Expr, where: "panel " + p.Title, legend: tg.Legend})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			if err := json.Unmarshal(v.Query, &s); err != nil {
				t.Fatalf("variable %s: query %s", v.Name, v.Query)
			}
			q.Query = s
		}
		out = append(out, query{expr: q.Query, where: "variable " + v.Name})
	}
	return out
}

var (
	// A metric name, with its matchers if any.
	selectorRE = regexp.MustCompile(`\b(vigil_[a-z0-9_]+)(\{[^}]*\})?`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	// Grouping: by (...), without (...), on (...), ignoring (...), and
	// label_values(metric, label).
	groupingRE    = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
	labelValuesRE = regexp.MustCompile(`label_values\(\s*vigil_[a-z0-9_]+\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
	byRE          = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	legendRE      = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
)

// TestDashboard: every metric the shipped Grafana dashboard queries is one
// the collector exports (histogram series by their base name), every
// label it matches on or groups by is one of those metrics' labels, and
// every label a legend prints survives the query's aggregation.
func TestDashboard(t *testing.T) {
	_, c := newSup(t, metrics.Config{})
	have := exported(t, c)
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	queries := dashboardQueries(t, b)
	if len(queries) < 10 {
		t.Fatalf("%s: %d queries, want the dashboard's panels", dashboardFile, len(queries))
	}
	used := map[string]bool{}
	for _, qq := range queries {
		q, where := qq.expr, qq.where
		labels := map[string]bool{}
		sels := selectorRE.FindAllStringSubmatch(q, -1)
		if len(sels) == 0 {
			t.Errorf("%s: %q queries no vigil metric", where, q)
		}
		var matchers [][]string
		for _, m := range sels {
			name := m[1]
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if _, ok := have[name]; !ok && strings.HasSuffix(name, suf) {
					base = strings.TrimSuffix(name, suf)
				}
			}
			ls, ok := have[base]
			if !ok {
				t.Errorf("%s: %q: the collector exports no %s", where, q, name)
				continue
			}
			used[base] = true
			for _, l := range ls {
				labels[l] = true
			}
			if strings.HasSuffix(name, "_bucket") {
				labels["le"] = true
			}
			if m[2] != "" {
				for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
					matchers = append(matchers, []string{name, mm[1]})
				}
			}
		}
		for _, m := range matchers {
			if !labels[m[1]] || !slices.Contains(append(have[strings.TrimSuffix(m[0], "_bucket")], "le"), m[1]) {
				t.Errorf("%s: %q: %s has no label %q", where, q, m[0], m[1])
			}
		}
		for _, g := range groupingRE.FindAllStringSubmatch(q, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labels[l] {
					t.Errorf("%s: %q: groups by %q, a label of none of its metrics", where, q, l)
				}
			}
		}
		for _, g := range labelValuesRE.FindAllStringSubmatch(q, -1) {
			if !labels[g[1]] {
				t.Errorf("%s: %q: no label %q", where, q, g[1])
			}
		}
	}
	// Legends name labels the query keeps.
	for _, q := range queries {
		kept := map[string]bool{}
		if g := byRE.FindAllStringSubmatch(q.expr, -1); g != nil {
			for _, l := range strings.Split(g[0][1], ",") {
				kept[strings.TrimSpace(l)] = true
			}
		} else if strings.HasPrefix(strings.TrimSpace(q.expr), "sum(") || strings.HasPrefix(strings.TrimSpace(q.expr), "count(") {
			// no labels survive
		} else {
			for _, m := range selectorRE.FindAllStringSubmatch(q.expr, -1) {
				for _, l := range have[m[1]] {
					kept[l] = true
				}
			}
		}
		for _, m := range legendRE.FindAllStringSubmatch(q.legend, -1) {
			if !kept[m[1]] {
				t.Errorf("%s: legend %q prints %s, which %q does not keep", q.where, q.legend, m[1], q.expr)
			}
		}
	}
	// The dashboard shows the instances' state and the real servers'.
	for _, must := range []string{"vigil_instance_state", "vigil_instance_effective_priority", "vigil_real_server_up", "vigil_virtual_server_quorum", "vigil_tracker_up"} {
		if !used[must] {
			t.Errorf("%s does not show %s", dashboardFile, must)
		}
	}
}
