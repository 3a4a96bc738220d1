package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPublishSchedule checks the schedule (topics round-robin, numbers per
// topic, every endpoint gets every publication, in order per topic) and
// the cut-off of a publisher whose endpoint is slower than the rate.
func TestPublishSchedule(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]Stamp{} // endpoint/topic → stamps in arrival order
	slow := false
	handler := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			s, ok := ParsePublication(false, body)
			if !ok || len(body) != 120 || !strings.HasPrefix(r.URL.Path, "/publish/") {
				http.Error(w, "bad", http.StatusBadRequest)
				return
			}
			mu.Lock()
			k := name + "/" + strings.TrimPrefix(r.URL.Path, "/publish/")
			got[k] = append(got[k], s)
			sl := slow
			mu.Unlock()
			if sl {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	a, b := httptest.NewServer(handler("a")), httptest.NewServer(handler("b"))
	defer a.Close()
	defer b.Close()
	eps := []string{strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")}
	topics := []string{"x", "y", "z"}
	start := time.Now()
	res, err := Publish(context.Background(), PublishConfig{Endpoints: eps, Topics: topics, Size: 120, Rate: 100,
		Start: start, End: start.Add(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Publications != 30 || res.Posted != 30 || res.Posts != 60 || res.Errors != 0 || res.Skipped != 0 {
		t.Fatalf("%+v", res)
	}
	for _, ep := range []string{"a", "b"} {
		for i, tp := range topics {
			ss := got[ep+"/"+tp]
			if len(ss) != 10 {
				t.Fatalf("%s/%s: %d publications, want 10", ep, tp, len(ss))
			}
			for j, s := range ss {
				if s.Topic != i || s.N != uint32(j+1) || s.T < start.UnixNano() {
					t.Fatalf("%s/%s #%d: %+v", ep, tp, j, s)
				}
			}
		}
	}

	// An endpoint that takes 100 ms per request, at 100/s with one lane:
	// most publications are skipped at the cut-off.
	mu.Lock()
	slow = true
	mu.Unlock()
	start = time.Now()
	res, err = Publish(context.Background(), PublishConfig{Endpoints: eps[:1], Topics: topics[:1], Size: 120, Rate: 100,
		Start: start, End: start.Add(500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted+res.Skipped != res.Publications || res.Skipped < 30 || int64(len(res.SkippedDue)) != res.Skipped || res.MaxLagMillis < 50 || time.Since(start) > 2*time.Second {
		t.Fatalf("slow endpoint: %+v after %v", res, time.Since(start))
	}

	if _, err := Publish(context.Background(), PublishConfig{Endpoints: []string{"10.0.0.1:80"}, Topics: topics, Size: 120, Rate: 1,
		Start: start, End: start.Add(time.Second)}); err == nil {
		t.Fatal("a target outside 127.0.0.0/8 was accepted")
	}
}
