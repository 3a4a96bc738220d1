package main

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics fetches http://adminAddr/metrics and parses it as the
// Prometheus text format.
func scrapeMetrics(t *testing.T, adminAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// metricValue returns the value of the unlabelled counter or gauge name,
// failing the test if there is no such series.
func metricValue(t *testing.T, families map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	mf := families[name]
	if mf == nil || len(mf.GetMetric()) != 1 {
		t.Fatalf("no single series %s", name)
	}
	m := mf.GetMetric()[0]
	if mf.GetType() == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}
