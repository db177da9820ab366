// Command firstreq measures start-up latency: it listens on -addr, answers
// every POST .../chat/completions with a minimal OpenAI-style completion, and
// when the first request of any kind arrives it prints the Unix time in
// nanoseconds on stdout. run.sh subtracts the time it launched driftwatch.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

const completion = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"bench-gpt","choices":[{"index":0,"message":{"role":"assistant","content":"The answer is 1."},"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":5,"total_tokens":13}}`

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	flag.Parse()
	var once sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		once.Do(func() { fmt.Println(now) })
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, completion)
	})
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "firstreq:", err)
		os.Exit(1)
	}
}
