package upstream

import (
	"context"
	"encoding/json"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestAnswersLikeElasticsearch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	status, body, err := fasthttp.Post(nil, "http://"+ln.Addr().String()+"/bench-logs/_search", nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Hits struct {
			Total struct{ Value int }
			Hits  []struct {
				Index string `json:"_index"`
			}
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	if status != 200 || doc.Hits.Total.Value != 1 || len(doc.Hits.Hits) != 1 || doc.Hits.Hits[0].Index != "bench-logs" {
		t.Errorf("answer %d %s", status, body)
	}
}
