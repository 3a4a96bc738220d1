package admin

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Prefix starts the name of every series the admin registry holds.
const Prefix = "wsloop_"

// NewRegistry returns a new registry (never the global default one) that
// holds a Collector for src, a HubCollector if WithHub is given (other
// options do not matter here), plus the Go runtime and process
// collectors, renamed from go_* and process_* to wsloop_go_* and
// wsloop_process_*, so that every series it gathers starts with Prefix.
// The caller owns the registry and may register more collectors on it;
// Gather is safe from any goroutine.
func NewRegistry(src Source, opts ...Option) *prometheus.Registry {
	cfg := newConfig(opts)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src))
	if cfg.hub != nil {
		reg.MustRegister(NewHubCollector(cfg.hub))
	}
	prometheus.WrapRegistererWithPrefix(Prefix, reg).MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
