package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/driftwatch/driftwatch/sim"
)

type atomicTime struct{ v atomic.Int64 }

func (a *atomicTime) set(t time.Time) { a.v.Store(t.UnixNano()) }
func (a *atomicTime) get() time.Time  { return time.Unix(0, a.v.Load()) }

// result is one raw chat call.
type result struct {
	status int
	header http.Header
	body   []byte
}

// fanOut sends n chat requests with prompt(i) through `workers` goroutines
// and returns the results in request order.
func fanOut(t testing.TB, url string, n, workers int, body func(i int) map[string]any) []result {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	t.Cleanup(client.CloseIdleConnections)
	out := make([]result, n)
	var next atomic.Int64
	var g errgroup.Group
	for range workers {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				js, err := json.Marshal(body(i))
				if err != nil {
					return err
				}
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(js))
				if err != nil {
					return err
				}
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				data, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					return err
				}
				out[i] = result{status: resp.StatusCode, header: resp.Header, body: data}
			}
		})
	}
	require.NoError(t, g.Wait())
	return out
}

func contentOf(t testing.TB, body []byte) string {
	t.Helper()
	var r oaChatResponse
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	require.NotNil(t, r.Choices[0].Message.Content)
	return *r.Choices[0].Message.Content
}

func modelMsg(model, prompt string) map[string]any {
	m := userMsg(prompt)
	m["model"] = model
	return m
}

func arithmeticPrompt(i int) (string, string) {
	a, b := i%997+3, i/997+11
	return fmt.Sprintf("Answer with only the number. What is %d + %d?", a, b), strconv.Itoa(a + b)
}

func TestAccuracyStatistics(t *testing.T) {
	t.Parallel()
	const n = 2000
	tol := func(p float64) float64 { return 4 * math.Sqrt(p*(1-p)/n) }

	t.Run("fixed p", func(t *testing.T) {
		t.Parallel()
		const p = 0.7
		b := setup(t, sim.Config{Seed: 1, Models: []sim.Model{fixedModel("m", sim.Profile{Accuracy: p})}})
		res := fanOut(t, b.url, n, 8, func(i int) map[string]any {
			q, _ := arithmeticPrompt(i)
			return modelMsg("m", q)
		})
		pass := 0
		for i, r := range res {
			require.Equal(t, http.StatusOK, r.status)
			_, want := arithmeticPrompt(i)
			if contentOf(t, r.body) == want {
				pass++
			}
		}
		require.InDelta(t, p, float64(pass)/n, tol(p))
		st := b.srv.Stats()
		require.Equal(t, int64(pass), st.Outcomes["correct"], "ground truth matches what the client sees")
		require.Equal(t, int64(n-pass), st.Outcomes["incorrect"])
	})
	t.Run("mixture with collapse", func(t *testing.T) {
		t.Parallel()
		prof := sim.Profile{
			Seed: 5,
			Mixture: []sim.Component{
				{Weight: 0.6, P: 0.98}, {Weight: 0.2, P: 0.05}, {Weight: 0.2, Min: 0.2, Max: 0.8},
			},
			CollapseFraction: 0.2, CollapseBy: 0.5,
		}
		b := setup(t, sim.Config{Seed: 2, Models: []sim.Model{fixedModel("m", prof)}})
		var sumP float64
		collapsed := 0
		base := prof
		base.CollapseFraction = 0
		bs := setup(t, sim.Config{Seed: 2, Models: []sim.Model{fixedModel("m", base)}})
		for i := range n {
			q, _ := arithmeticPrompt(i)
			p, err := b.srv.CaseProbability("m", q)
			require.NoError(t, err)
			p0, err := bs.srv.CaseProbability("m", q)
			require.NoError(t, err)
			if p < p0 {
				collapsed++
				require.InDelta(t, max(p0-0.5, 0), p, 1e-9)
			} else {
				require.InDelta(t, p0, p, 1e-9)
			}
			sumP += p
		}
		// Cases with p0 = 0.05 can collapse too but are clamped at 0.
		require.InDelta(t, 0.2, float64(collapsed)/n, 0.05)

		res := fanOut(t, b.url, n, 8, func(i int) map[string]any {
			q, _ := arithmeticPrompt(i)
			return modelMsg("m", q)
		})
		pass := 0
		for i, r := range res {
			_, want := arithmeticPrompt(i)
			if contentOf(t, r.body) == want {
				pass++
			}
		}
		mean := sumP / n
		require.InDelta(t, mean, float64(pass)/n, tol(mean))
	})
	t.Run("refusal rate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sim.Config{Models: []sim.Model{fixedModel("m", sim.Profile{Accuracy: 1, Refusal: 0.2})}})
		res := fanOut(t, b.url, n, 8, func(i int) map[string]any { return modelMsg("m", fmt.Sprintf("Tell me secret %d", i)) })
		refused := 0
		for _, r := range res {
			if contentOf(t, r.body) == sim.RefusalText {
				refused++
			}
		}
		require.InDelta(t, 0.2, float64(refused)/n, tol(0.2))
	})
}

func TestErrorInjection(t *testing.T) {
	t.Parallel()
	const n = 2000
	prof := sim.Profile{Accuracy: 1, Errors: sim.Errors{
		RateLimit: 0.2, RetryAfter: sim.Duration(1500 * time.Millisecond), Server: 0.1, Malformed: 0.1,
	}}
	b := setup(t, sim.Config{Models: []sim.Model{fixedModel("m", prof)}})
	res := fanOut(t, b.url, n, 8, func(i int) map[string]any { return modelMsg("m", fmt.Sprintf("What is %d + 1?", i)) })
	var rl, se, bad, ok int
	for _, r := range res {
		switch r.status {
		case http.StatusTooManyRequests:
			rl++
			require.Equal(t, "2", r.header.Get("Retry-After"))
			require.Equal(t, "1500", r.header.Get("retry-after-ms"))
			require.Contains(t, string(r.body), "rate_limit_exceeded")
		case http.StatusInternalServerError:
			se++
		case http.StatusOK:
			if json.Valid(r.body) {
				ok++
			} else {
				bad++
			}
		default:
			t.Fatalf("unexpected status %d", r.status)
		}
	}
	tol := func(p float64) float64 { return 4 * math.Sqrt(p*(1-p)/n) }
	require.InDelta(t, 0.2, float64(rl)/n, tol(0.2))
	require.InDelta(t, 0.1, float64(se)/n, tol(0.1))
	require.InDelta(t, 0.1, float64(bad)/n, tol(0.1))
	st := b.srv.Stats()
	require.Equal(t, int64(rl), st.Errors["rate_limit"])
	require.Equal(t, int64(se), st.Errors["server"])
	require.Equal(t, int64(bad), st.Errors["malformed"])
	require.Equal(t, int64(ok), st.Served)
	require.Equal(t, int64(n), st.Requests)
}

func TestHang(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{Models: []sim.Model{fixedModel("m", sim.Profile{Errors: sim.Errors{Hang: 1}})}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	js, err := json.Marshal(modelMsg("m", "hi"))
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url+"/v1/chat/completions", bytes.NewReader(js))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	// The server counts the hang when it takes the request (on a loaded
	// machine that can be later than any fixed client timeout), then holds
	// it until the client gives up.
	require.Eventually(t, func() bool { return b.srv.Stats().Errors["hang"] == 1 }, 10*time.Second, 5*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the hung request returned before the client gave up: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not end when the client gave up")
	}
	require.Equal(t, int64(1), b.srv.Stats().Errors["hang"])
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	prompt := "Name it. [[sim:expect=42]]"
	prof := sim.Profile{Accuracy: 0.5, Verbosity: 1.5, CodeFence: 0.3}

	det := prof
	det.Deterministic = true
	b := setup(t, sim.Config{Models: []sim.Model{fixedModel("det", det), fixedModel("rnd", prof)}})
	first := contentOf(t, fanOut(t, b.url, 1, 1, func(int) map[string]any { return modelMsg("det", prompt) })[0].body)
	distinct := map[string]bool{}
	for _, r := range fanOut(t, b.url, 50, 4, func(int) map[string]any { return modelMsg("det", prompt) }) {
		require.Equal(t, first, contentOf(t, r.body))
	}
	for _, r := range fanOut(t, b.url, 50, 4, func(int) map[string]any { return modelMsg("rnd", prompt) }) {
		distinct[contentOf(t, r.body)] = true
	}
	require.Greater(t, len(distinct), 3, "a sampling model varies")
}

func TestReproducible(t *testing.T) {
	t.Parallel()
	cfg, err := sim.Scenario(sim.ScenarioDefault)
	require.NoError(t, err)
	body := func(i int) map[string]any {
		return modelMsg(sim.GPTName, fmt.Sprintf("Is %d a prime number? Answer [Yes] or [No].", 100+i%40))
	}
	// Concurrency changes the interleaving but not each case's k-th output.
	a := fanOut(t, setup(t, cfg).url, 400, 1, body)
	b := fanOut(t, setup(t, cfg).url, 400, 8, body)
	collect := func(rs []result) map[string][]string {
		m := map[string][]string{}
		for i, r := range rs {
			k := fmt.Sprint(100 + i%40)
			m[k] = append(m[k], contentOf(t, r.body))
		}
		return m
	}
	ma, mb := collect(a), collect(b)
	for k, outs := range ma {
		require.ElementsMatch(t, outs, mb[k], "case %s", k)
	}
}

func TestStatsUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setupScenario(t, sim.ScenarioDefault)
	const workers, per = 16, 50
	res := fanOut(t, b.url, workers*per, workers, func(i int) map[string]any {
		model := sim.GPTName
		if i%2 == 1 {
			model = sim.LlamaName
		}
		return modelMsg(model, fmt.Sprintf("case %d", i/2))
	})
	for _, r := range res {
		require.Equal(t, http.StatusOK, r.status)
	}
	st := b.srv.Stats()
	require.Equal(t, int64(workers*per), st.Requests)
	require.Equal(t, int64(workers*per), st.Served)
	require.Equal(t, int64(workers*per/2), st.Models[sim.GPTName].Requests)
	require.Equal(t, int64(workers*per/2), st.Models[sim.LlamaName].Requests)
	require.Len(t, st.PerPrompt[sim.GPTName], workers*per/2)
	require.Equal(t, int64(1), st.MaxPerPrompt, "no (case, sample) requested twice")
	require.Equal(t, int64(1), st.PerPrompt[sim.GPTName][sim.PromptHash("case 0")])
	require.Zero(t, st.InFlight)
	require.GreaterOrEqual(t, st.MaxInFlight, int64(1))
	require.LessOrEqual(t, st.MaxInFlight, int64(workers))
	require.Positive(t, st.MaxPerSecond)
	require.LessOrEqual(t, st.MaxPerSecond, st.Requests)

	// The HTTP view is the same snapshot.
	_, data := b.do(t, http.MethodGet, "/sim/stats", nil)
	var hs sim.Stats
	require.NoError(t, json.Unmarshal(data, &hs))
	require.Equal(t, st.Requests, hs.Requests)
	require.Equal(t, st.MaxPerPrompt, hs.MaxPerPrompt)
}

func TestMaxPerSecond(t *testing.T) {
	t.Parallel()
	var clock atomicTime
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock.set(start)
	b := setup(t, sim.Config{Models: []sim.Model{fixedModel("m", sim.Profile{Accuracy: 1})}}, sim.WithClock(clock.get))
	// 5 requests per 100 ms bucket for 3 s: any one-second window holds 50.
	for i := range 150 {
		clock.set(start.Add(time.Duration(i/5) * 100 * time.Millisecond))
		b.chat(t, modelMsg("m", "hi"))
	}
	require.Equal(t, int64(50), b.srv.Stats().MaxPerSecond)
}

func TestFinishReasons(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{Models: []sim.Model{
		fixedModel("cut", sim.Profile{Accuracy: 1, LengthRate: 1}),
		fixedModel("filter", sim.Profile{Accuracy: 1, ContentFilterRate: 1}),
		fixedModel("ok", sim.Profile{Accuracy: 1, Verbosity: 5}),
	}})
	out := b.chat(t, modelMsg("cut", "What is 2 + 2?"))
	require.Equal(t, "length", out.Choices[0].FinishReason)
	out = b.chat(t, modelMsg("filter", "What is 2 + 2?"))
	require.Equal(t, "content_filter", out.Choices[0].FinishReason)
	require.Empty(t, *out.Choices[0].Message.Content)
	body := modelMsg("ok", "What is 2 + 2?")
	body["max_tokens"] = 3
	out = b.chat(t, body)
	require.Equal(t, "length", out.Choices[0].FinishReason)
	require.LessOrEqual(t, len(*out.Choices[0].Message.Content), 12)
	require.Equal(t, int64(1), b.srv.Stats().Outcomes["content_filter"])
}

func TestJSONMode(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{Models: []sim.Model{
		fixedModel("m", sim.Profile{Accuracy: 1}),
		fixedModel("broken", sim.Profile{Accuracy: 1, BrokenJSON: 1}),
	}})
	body := modelMsg("m", "What is 6 * 7?")
	body["response_format"] = map[string]string{"type": "json_object"}
	out := b.chat(t, body)
	require.JSONEq(t, `{"answer": 42}`, *out.Choices[0].Message.Content)
	body["model"] = "broken"
	out = b.chat(t, body)
	require.False(t, json.Valid([]byte(*out.Choices[0].Message.Content)))
}

func TestLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{
		Latency: sim.Latency{Fixed: sim.Duration(30 * time.Millisecond)},
		Models:  []sim.Model{fixedModel("m", sim.Profile{Accuracy: 1})},
	})
	start := time.Now()
	b.chat(t, modelMsg("m", "hi"))
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
}

func BenchmarkChatCompletion(b *testing.B) {
	cfg, err := sim.Scenario(sim.ScenarioDefault)
	require.NoError(b, err)
	cfg.MaxTrackedPrompts = 10_000
	srv, err := sim.New(cfg)
	require.NoError(b, err)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	bodies := make([][]byte, 1000)
	for i := range bodies {
		js, err := json.Marshal(modelMsg(sim.GPTName, fmt.Sprintf("Is %d a prime number? Answer [Yes] or [No].", i)))
		require.NoError(b, err)
		bodies[i] = js
	}
	var seq atomic.Int64
	var failed sync.Once
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			resp, err := client.Post(hs.URL+"/v1/chat/completions", "application/json", bytes.NewReader(bodies[i%int64(len(bodies))]))
			if err != nil {
				failed.Do(func() { b.Error(err) })
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Do(func() { b.Errorf("status %d", resp.StatusCode) })
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(srv.Stats().MaxPerSecond), "max_req/s")
}

// BenchmarkHandler measures the simulator alone, without the network.
func BenchmarkHandler(b *testing.B) {
	cfg, err := sim.Scenario(sim.ScenarioDefault)
	require.NoError(b, err)
	srv, err := sim.New(cfg)
	require.NoError(b, err)
	defer srv.Close()
	js, err := json.Marshal(modelMsg(sim.GPTName, "Is 97 a prime number? Answer [Yes] or [No]."))
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(js))
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

func TestInjectedErrorShapes(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{Models: []sim.Model{
		fixedModel("limited", sim.Profile{Errors: sim.Errors{RateLimit: 1}}),
		fixedModel("broken", sim.Profile{Errors: sim.Errors{Malformed: 1}}),
	}})
	an := map[string]any{"model": "limited", "max_tokens": 10, "messages": []map[string]any{{"role": "user", "content": "hi"}}}
	resp, data := b.do(t, http.MethodPost, "/v1/messages", an)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(data, &e))
	require.Equal(t, "error", e.Type)
	require.Equal(t, "rate_limit_error", e.Error.Type)

	body := modelMsg("broken", "hi")
	body["stream"] = true
	resp, data = b.do(t, http.MethodPost, "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, string(data), "[DONE]")
	_, datas := readSSE(t, data)
	require.False(t, json.Valid([]byte(datas[0])))
	require.Equal(t, int64(1), b.srv.Stats().Errors["malformed"])
}

// Repeated counts only the responses past k for each prompt.
func TestStatsRepeatedCountsResponsesBeyondK(t *testing.T) {
	st := sim.Stats{PerPrompt: map[string]map[string]int64{"m": {"a": 3, "b": 1}, "n": {"c": 2}}}
	require.Equal(t, int64(1), st.Repeated(2))
	require.Equal(t, int64(3), st.Repeated(1))
	require.Zero(t, st.Repeated(3))
}
