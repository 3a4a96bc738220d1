package soak

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// dumpWorkers saves every worker's goroutine stacks
// (/debug/pprof/goroutine?debug=2) into Config.Out, for the post-mortem
// of a failed delivery or churn check; it returns the files written.
func (r *runner) dumpWorkers(ctx context.Context) []string {
	if r.cfg.Out == "" {
		return nil
	}
	if err := os.MkdirAll(r.cfg.Out, 0o755); err != nil {
		return nil
	}
	var files []string
	for slot := range r.cfg.Procs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.feed.adminOf(slot)+"/debug/pprof/goroutine?debug=2", nil)
		if err != nil {
			continue
		}
		resp, err := scrapeClient.Do(req)
		if err != nil {
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			continue
		}
		name := fmt.Sprintf("goroutines-%s.txt", workerName(slot))
		if os.WriteFile(filepath.Join(r.cfg.Out, name), b, 0o644) == nil {
			files = append(files, name)
		}
	}
	return files
}
