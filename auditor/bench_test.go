package auditor_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/auditor/auditortest"
	"github.com/portcullis/portcullis/events"
)

// The two benchmarks write the same documents into the real node and
// report documents per second; compare them in one run (absolute numbers
// drift from machine to machine):
//
//	go test -run '^$' -bench Throughput -benchtime 20000x ./auditor/
//
// BenchmarkThroughputAuditor times the whole path: events already in the
// AUTH stream, pulled, turned into documents, bulk-created and acknowledged
// one by one (timed from Run's start, template installation included, until
// the consumer's lag is 0). BenchmarkThroughputRawBulkIndexer hands the same
// documents straight to an esutil.BulkIndexer with the same number of
// workers and its default flush size: the ceiling the auditor is measured
// against.

func benchOutcomes(n int) []events.AuthOutcome {
	out := make([]events.AuthOutcome, n)
	for i := range out {
		out[i] = failure(fmt.Sprintf("bench-%d", i%97), fmt.Sprintf("req-%d", i))
	}
	return out
}

func BenchmarkThroughputAuditor(b *testing.B) {
	es := esEnv{url: auditortest.ESURL(b)}
	nenv := startNATS(b)
	_, js := nenv.connect(b)
	b.StopTimer()
	prefix := es.testPrefix(b)
	publish(b, js, benchOutcomes(b.N)...)
	a, err := auditor.New(auditor.Config{
		JS: js, ES: newClient(b, es.url, nil), IndexPrefix: prefix, Durable: fmt.Sprintf("bench-%d", b.N),
	}, auditor.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	b.StartTimer()
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	for a.Stats().Indexed < uint64(b.N) || lag(b, a) != 0 {
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if got := es.count(b, prefix, ""); got != b.N {
		b.Fatalf("%d documents, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "docs/s")
}

func BenchmarkThroughputRawBulkIndexer(b *testing.B) {
	es := esEnv{url: auditortest.ESURL(b)}
	b.StopTimer()
	prefix := es.testPrefix(b)
	// The auditor installs the template; here the test does, so both write
	// into identically mapped indices.
	es.mustJSON(b, "PUT", "/_index_template/portcullis-audit-"+prefix[1:len(prefix)-1], string(auditor.AuditorTemplateFor(prefix)), nil)
	type item struct {
		id, index string
		doc       []byte
	}
	items := make([]item, 0, b.N)
	for _, o := range benchOutcomes(b.N) {
		ev, err := events.New("test-gw", events.AuthType(o.Action), o.RequestID, time.Now(), o)
		if err != nil {
			b.Fatal(err)
		}
		doc, err := auditor.Document(ev, o)
		if err != nil {
			b.Fatal(err)
		}
		items = append(items, item{ev.ID, auditor.IndexName(prefix, ev.Time), doc})
	}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: newClient(b, es.url, nil), NumWorkers: auditor.DefaultWorkers})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.StartTimer()
	began := time.Now()
	for _, it := range items {
		if err := bi.Add(context.Background(), esutil.BulkIndexerItem{
			Index: it.index, Action: "create", DocumentID: it.id, Body: bytes.NewReader(it.doc),
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := bi.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	if st := bi.Stats(); st.NumFailed != 0 || st.NumCreated != uint64(b.N) {
		b.Fatalf("bulk indexer stats %+v", st)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "docs/s")
}
