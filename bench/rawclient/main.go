// Command rawclient is the reference for the Driftwatch benchmarks: a bare
// net/http client that sends N chat completion requests to an
// OpenAI-compatible endpoint at concurrency C and prints the request rate.
// It does what a hand-written load generator would and nothing more: one
// pre-sized keep-alive pool, no retries, no JSON decoding of the answer.
//
//	rawclient -url http://127.0.0.1:8089/v1/chat/completions -n 2000 -c 32 -model bench-gpt
//
// It prints one line: "N requests, C concurrent, S s, R req/s, E errors".
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		url   = flag.String("url", "http://127.0.0.1:8089/v1/chat/completions", "chat completions URL")
		n     = flag.Int("n", 2000, "requests")
		c     = flag.Int("c", 32, "concurrency")
		model = flag.String("model", "bench-gpt", "model")
	)
	flag.Parse()
	if *n <= 0 || *c <= 0 {
		fmt.Fprintln(os.Stderr, "rawclient: -n and -c must be positive")
		return 2
	}
	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        *c,
		MaxIdleConnsPerHost: *c,
		IdleConnTimeout:     90 * time.Second,
	}}
	var (
		next, errs atomic.Int64
		wg         sync.WaitGroup
	)
	start := time.Now()
	for range *c {
		wg.Go(func() {
			var body bytes.Buffer
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				body.Reset()
				body.WriteString(`{"model":"`)
				body.WriteString(*model)
				body.WriteString(`","messages":[{"role":"user","content":"What is `)
				body.WriteString(strconv.FormatInt(100+i%900, 10))
				body.WriteString(" + ")
				body.WriteString(strconv.FormatInt(i, 10))
				body.WriteString(`?"}],"max_tokens":64}`)
				resp, err := hc.Post(*url, "application/json", bytes.NewReader(body.Bytes()))
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("%d requests, %d concurrent, %.3f s, %.1f req/s, %d errors\n", *n, *c, d.Seconds(), float64(*n)/d.Seconds(), errs.Load())
	if errs.Load() > 0 {
		return 1
	}
	return 0
}
