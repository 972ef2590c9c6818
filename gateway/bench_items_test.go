package gateway

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// benchBulk drives a 100-item _bulk through Handle as the constraint user
// "reader" (POST under /data), refused items to "secret" every refuseEvery
// items (0: none), against a fasthttp upstream that answers a bulk response
// with one item per action line it received.
func benchBulk(b *testing.B, refuseEvery int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		n := bytes.Count(ctx.Request.Body(), []byte("\n")) / 2
		var out strings.Builder
		out.WriteString(`{"errors":false,"took":1,"items":[`)
		for i := range n {
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`{"index":{"_index":"data","_id":"x","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":1,"_primary_term":1,"status":201}}`)
		}
		out.WriteString("]}")
		ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
		ctx.SetContentType("application/json")
		ctx.SetBodyString(out.String())
	}}
	go up.Serve(ln)
	defer up.Shutdown()
	tg := newTestGateway(b, "http://"+ln.Addr().String())

	var body strings.Builder
	for i := range 100 {
		index := "data"
		if refuseEvery > 0 && i%refuseEvery == 0 {
			index = "secret"
		}
		body.WriteString(`{"index":{"_index":"` + index + `","_id":"` + string(rune('a'+i%26)) + `"}}` + "\n" + `{"msg":"hello world","n":12345,"tags":["a","b"]}` + "\n")
	}
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/data/_bulk")
	req.Header.SetContentType("application/x-ndjson")
	req.Header.Set("Authorization", "Basic cmVhZGVyOnJlYWRlci1wdw==") // reader:reader-pw
	req.SetBodyString(body.String())
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}, nil)
	run := func() {
		ctx.Response.Reset()
		req.CopyTo(&ctx.Request)
		tg.g.Handle(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		if s := ctx.Response.BodyStream(); s != nil {
			ctx.Response.CloseBodyStream()
		}
	}
	run() // the slow hash, once
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
		if i%1024 == 0 {
			tg.out.reset()
		}
	}
}

// BenchmarkBulkGranted: every item granted, the request forwarded as it
// came.
func BenchmarkBulkGranted(b *testing.B) { benchBulk(b, 0) }

// BenchmarkBulkOneRefused: one item in a hundred refused: the body cut and
// rewritten, the answer read whole and merged.
func BenchmarkBulkOneRefused(b *testing.B) { benchBulk(b, 100) }

// BenchmarkBulkTenRefused: one item in ten refused.
func BenchmarkBulkTenRefused(b *testing.B) { benchBulk(b, 10) }
