package classify_test

import (
	"fmt"

	"github.com/portcullis/portcullis/gateway/canon"
	"github.com/portcullis/portcullis/gateway/classify"
)

func ExampleClassify() {
	path, _ := canon.Path([]byte("/logs/_bulk"))
	res, err := classify.Classify(classify.Request{
		Method:      "POST",
		Path:        path,
		ContentType: "application/x-ndjson",
		Body: []byte(`{"index":{"_index":"logs-a"}}` + "\n" + `{"msg":"hi"}` + "\n" +
			`{"delete":{"_id":"1"}}` + "\n"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.API, res.Action)
	for _, t := range res.Targets {
		fmt.Println(t.Item, t.Action, t.Indices)
	}
	// Output:
	// bulk indices:data/write/bulk
	// 0 indices:data/write/index:op_type/index [logs-a]
	// 1 indices:data/write/delete [logs]
}
