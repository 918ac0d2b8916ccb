package vigildcmd

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveHTTP serves /metrics (the Supervisor's collector, the BGP
// speaker's, Go's and the process's) and /state (State as JSON, with
// the speaker's status under "bgp") on ln until the returned func is
// called; that func closes the server and waits for it.
func (d *daemon) serveHTTP(ln net.Listener) func() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(d.sup.Collector(), bgpCollector{d}, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogAdapter{d}}))
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		st := d.sup.State()
		enc.Encode(stateJSON{&st, d.bgpStatus()})
	})
	return serveMux(ln, mux, d.log)
}

// serveMux serves mux on ln until the returned func is called; that func
// closes the server and waits for it.
func serveMux(ln net.Listener, mux *http.ServeMux, log *slog.Logger) func() {
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	})
	return func() {
		srv.Close()
		wg.Wait()
	}
}

// slogAdapter gives promhttp the daemon's logger.
type slogAdapter struct{ d *daemon }

func (a slogAdapter) Println(v ...any) {
	a.d.log.Error("metrics", "err", v)
}
