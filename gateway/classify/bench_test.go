package classify

import (
	"bytes"
	"fmt"
	"testing"
)

func BenchmarkClassifySearch(b *testing.B) {
	req := Request{Method: "POST", Path: "/logs-*/_search", Query: []byte("size=10&scroll=1m"),
		Body: []byte(`{"query":{"bool":{"filter":[{"term":{"host":"a"}},{"range":{"@timestamp":{"gte":"now-1h"}}}]}},"size":10}`), ContentType: "application/json"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Classify(req); err != nil {
			b.Fatal(err)
		}
	}
}

func bulk1MB() []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < 1<<20; i++ {
		fmt.Fprintf(&buf, "{\"index\":{\"_index\":\"logs-%d\",\"_id\":\"%d\"}}\n", i%7, i)
		fmt.Fprintf(&buf, "{\"@timestamp\":\"2026-11-23T12:00:00Z\",\"message\":\"GET /index.html 200 %d\",\"host\":{\"name\":\"web-%d\"},\"bytes\":%d}\n", i, i%13, i*17)
	}
	return buf.Bytes()
}

func BenchmarkClassifyBulk1MB(b *testing.B) {
	req := Request{Method: "POST", Path: "/_bulk", Body: bulk1MB(), ContentType: "application/x-ndjson"}
	b.SetBytes(int64(len(req.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Classify(req); err != nil {
			b.Fatal(err)
		}
	}
}
