package soak

import (
	"net/http"
	"time"
)

// scrapeClient fetches the debug and monitoring pages the suite reads
// besides /metrics (goroutine dumps, NATS's monitoring).
var scrapeClient = &http.Client{Timeout: 3 * time.Second}
