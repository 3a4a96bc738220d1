package hostile

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The wsloop gauges the suite watches on -admin's /metrics.
const (
	gaugeOpen       = "wsloop_connections_open"
	gaugeTCP        = "wsloop_tcp_connections"
	gaugeGoroutines = "wsloop_go_goroutines"
)

// scrapeClient opens a connection per scrape, so that the admin server
// holds no idle keep-alive connection (and its goroutine) between scrapes.
var scrapeClient = &http.Client{
	Timeout:   3 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// Metrics is one scrape: every series (name with labels, as written) by
// value.
type Metrics map[string]float64

// Scrape reads http://admin/metrics.
func Scrape(admin string) (Metrics, error) {
	resp, err := scrapeClient.Get("http://" + admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", admin, resp.Status)
	}
	m := Metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}
