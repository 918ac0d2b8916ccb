package vigildcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bgp/bgpstate"
)

// Under --process-model=keepalived each child listens on a control
// socket of its own, the parent's path with ".vrrp" or ".checker"
// appended; the parent answers on the path given and asks its children:
// status and /state merge the VRRP child's instances, sync groups and
// trackers with the checker child's virtual servers; reload asks both
// and merges their answers; dump joins their dumps; /metrics serves the
// parent's Go and process collectors and the children's Supervisor
// collectors, each child's series labelled process="vrrp" or
// process="checker".

// childSocket is the control socket o's process listens on: none for
// "none", o.ControlSocket, or a child's path beside it.
func childSocket(o *Options) string {
	p := o.ControlSocket
	if p == "" || p == "none" {
		return ""
	}
	if o.Child != "" {
		return p + "." + o.Child
	}
	return p
}

// ask sends req to the control socket of the child of kind.
func (p *parent) ask(kind childKind, req Request) (Response, error) {
	o := *p.o
	o.Child = kind.String()
	resp, err := call(childSocket(&o), req)
	if err == nil && resp.Error != "" && resp.Reload == nil {
		err = errors.New(resp.Error)
	}
	if err != nil {
		return resp, fmt.Errorf("%s child: %w", kind, err)
	}
	return resp, nil
}

// handle answers a request on the parent's control socket from the
// children's answers.
func (p *parent) handle(_ context.Context, req Request) Response {
	switch req.Command {
	case "status":
		st, b, err := p.state()
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Now: p.env.Now(), State: &st, BGP: b}
	case "reload":
		var res reloadResult
		var summaries []string
		for _, kind := range p.children() {
			resp, err := p.ask(kind, req)
			if err != nil {
				res.Problems = append(res.Problems, err.Error())
				res.Err = cmpOr(res.Err, "a child did not reload")
				continue
			}
			r := resp.Reload
			if r == nil {
				continue
			}
			if r.Summary != "" {
				summaries = append(summaries, kind.String()+": "+r.Summary)
			}
			for _, pr := range r.Problems {
				if !slices.Contains(res.Problems, pr) {
					res.Problems = append(res.Problems, pr)
				}
			}
			res.Err = cmpOr(res.Err, r.Err)
		}
		res.Summary = strings.Join(summaries, "; ")
		return Response{Reload: &res}
	case "dump":
		var b strings.Builder
		for _, kind := range p.children() {
			resp, err := p.ask(kind, req)
			if err != nil {
				return Response{Error: err.Error()}
			}
			b.WriteString(resp.Dump)
		}
		return Response{Dump: b.String()}
	}
	return Response{Error: fmt.Sprintf("unknown command %q (status, reload, dump)", req.Command)}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// state merges the children's states: the VRRP side's instances, sync
// groups and trackers, and its BGP speaker's status (the speaker runs
// there), the checker side's virtual servers.
func (p *parent) state() (vigil.State, *bgpstate.State, error) {
	st := vigil.State{Instances: []vigil.InstanceState{}}
	var b *bgpstate.State
	for _, kind := range p.children() {
		resp, err := p.ask(kind, Request{Command: "status"})
		if err != nil {
			return vigil.State{}, nil, err
		}
		if resp.State == nil {
			return vigil.State{}, nil, fmt.Errorf("%s child: no state in the answer", kind)
		}
		if kind == childVRRP {
			st.Instances, st.SyncGroups, st.Trackers = resp.State.Instances, resp.State.SyncGroups, resp.State.Trackers
			b = resp.BGP
		} else {
			st.VirtualServers = resp.State.VirtualServers
		}
	}
	return st, b, nil
}

// serveHTTP serves the parent's /metrics and /state on ln until the
// returned func is called.
func (p *parent) serveHTTP(ln net.Listener) func() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g := prometheus.Gatherers{reg, prometheus.GathererFunc(p.gatherChildren)}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		st, b, err := p.state()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(stateJSON{&st, b})
	})
	return serveMux(ln, mux, p.log)
}

// gatherChildren gathers the children's metrics, each series labelled
// with its child.
func (p *parent) gatherChildren() ([]*dto.MetricFamily, error) {
	var out []*dto.MetricFamily
	var errs []error
	for _, kind := range p.children() {
		resp, err := p.ask(kind, Request{Command: "metrics"})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mfs, err := parseMetrics(resp.Metrics, kind.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s child's metrics: %w", kind, err))
			continue
		}
		out = append(out, mfs...)
	}
	return out, errors.Join(errs...)
}

// parseMetrics reads Prometheus' text format and labels every series
// process=name.
func parseMetrics(text, name string) ([]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, mf := range fams {
		for _, m := range mf.Metric {
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String("process"), Value: proto.String(name)})
		}
		out = append(out, mf)
	}
	return out, nil
}

// gatherText is c's metrics in Prometheus' text format: a child's answer
// to metrics.
func gatherText(cs ...prometheus.Collector) (string, error) {
	reg := prometheus.NewRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return "", err
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}
