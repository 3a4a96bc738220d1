package admin

// Option adds endpoints or series to Handler, Serve and ListenAndServe
// (and series to NewRegistry).
type Option func(*config)

type config struct {
	pub Publisher // POST /publish/{topic}, if not nil
	hub HubSource // the wsloop_pubsub_* series, if not nil
}

func newConfig(opts []Option) config {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// WithPublisher serves POST /publish/{topic} through p (see
// PublishHandler).
func WithPublisher(p Publisher) Option { return func(c *config) { c.pub = p } }

// WithHub exports the statistics of h, normally the *pubsub.Hub the server
// runs, as the wsloop_pubsub_* series (see HubCollector).
func WithHub(h HubSource) Option { return func(c *config) { c.hub = h } }
