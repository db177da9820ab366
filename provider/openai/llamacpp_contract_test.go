package openai_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/provider/openai"
	"github.com/driftwatch/driftwatch/sim"
)

// recording is one `curl -i` recording: status, headers and body.
type recording struct {
	status int
	header http.Header
	body   []byte
}

func readRecording(t *testing.T, name string) recording {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "llamacpp", name))
	require.NoError(t, err)
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	require.True(t, ok, "%s: no header/body separator", name)
	lines := strings.Split(string(head), "\r\n")
	fields := strings.Fields(lines[0])
	status, err := strconv.Atoi(fields[1])
	require.NoError(t, err)
	h := http.Header{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		h.Add(k, strings.TrimSpace(v))
	}
	return recording{status: status, header: h, body: body}
}

// replay serves recordings: routes maps "METHOD /path" (and "POST
// /v1/chat/completions stream" for stream requests) to a file name. It
// counts the chat requests.
func replay(t *testing.T, routes map[string]string) (*httptest.Server, *int) {
	t.Helper()
	recs := map[string]recording{}
	for k, name := range routes {
		recs[k] = readRecording(t, name)
	}
	chats := new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		if r.URL.Path == "/v1/chat/completions" {
			*chats++
			var req struct {
				Stream bool `json:"stream"`
			}
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &req)
			if req.Stream {
				key += " stream"
			}
		}
		rec, ok := recs[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		for k, vs := range rec.header {
			switch k {
			case "Content-Length", "Transfer-Encoding", "Keep-Alive":
				continue
			}
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body)
	}))
	t.Cleanup(srv.Close)
	return srv, chats
}

var (
	f32Routes = map[string]string{
		"GET /props": "props.http", "GET /v1/models": "models.http", "GET /health": "health.http",
		"POST /v1/chat/completions": "chat.http", "POST /v1/chat/completions stream": "chat_stream.http",
	}
	q4Routes = map[string]string{
		"GET /props": "props_q4_0_alias.http", "GET /v1/models": "models_q4_0_alias.http",
		"POST /v1/chat/completions": "chat_q4_0_alias.http",
	}
)

func llamaClient(t *testing.T, url string) *openai.Client {
	t.Helper()
	c, err := openai.New(openai.Config{Flavor: openai.FlavorLlamaCPP, BaseURL: url + "/v1", Model: "tiny-drift",
		Retry: provider.Retry{MaxAttempts: 1}}, nil)
	require.NoError(t, err)
	return c
}

func chatReq(stream bool) *eval.Request {
	temp := 0.0
	return &eval.Request{Messages: []eval.Message{{Role: eval.RoleSystem, Content: "Answer briefly."}, {Role: eval.RoleUser, Content: "Is the answer the same?"}},
		Params: eval.Params{Temperature: &temp, MaxTokens: 24}, Stream: stream}
}

// The recorded server's identity is what it says about the file it
// loaded, and every response carries exactly that identity: never the
// echoed model field.
func TestLlamaCPPRecordedIdentity(t *testing.T) {
	t.Parallel()
	srv, _ := replay(t, f32Routes)
	c := llamaClient(t, srv.URL)
	ctx := context.Background()
	id, err := c.Probe(ctx)
	require.NoError(t, err)
	require.Equal(t, "llamacpp", id.Provider)
	require.Equal(t, "tiny-drift", id.RequestedModel)
	require.Equal(t, "/models/tiny-drift-f32.gguf", id.ResolvedModel)
	require.True(t, strings.HasPrefix(id.Digest, "llamacpp:"), id.Digest)
	require.Equal(t, map[string]string{
		"model_path": "/models/tiny-drift-f32.gguf", "build_info": "b4748-c392e5094", "n_ctx": "256",
		"chat_template_sha256": id.Extra["chat_template_sha256"], "size": "16567296", "n_params": "4141824",
		"n_vocab": "1941", "n_embd": "256", "n_ctx_train": "2048",
	}, id.Extra)
	require.Len(t, id.Extra["chat_template_sha256"], 16)

	resp, err := c.Complete(ctx, chatReq(false))
	require.NoError(t, err)
	require.Equal(t, "The answer is the same answer is the answer as before.", resp.Text)
	require.Equal(t, "stop", resp.FinishReason)
	require.Equal(t, eval.Usage{InputTokens: 35, OutputTokens: 13}, resp.Usage)
	want := id
	want.Fingerprint = "b4748-c392e5094"
	require.Equal(t, want, resp.Identity)

	st, err := c.Complete(ctx, chatReq(true))
	require.NoError(t, err)
	require.Equal(t, "The answer is correct.", st.Text)
	require.Equal(t, eval.Usage{InputTokens: 24, OutputTokens: 6}, st.Usage)
	require.Equal(t, want, st.Identity)
	require.Equal(t, provider.IdentityHash(resp.Identity), provider.IdentityHash(st.Identity))
}

// A client that nobody probed probes before its first completion, so its
// responses carry the same identity.
func TestLlamaCPPProbesBeforeTheFirstCompletion(t *testing.T) {
	t.Parallel()
	srv, _ := replay(t, f32Routes)
	probed, err := llamaClient(t, srv.URL).Probe(context.Background())
	require.NoError(t, err)
	resp, err := llamaClient(t, srv.URL).Complete(context.Background(), chatReq(false))
	require.NoError(t, err)
	require.Equal(t, probed.Digest, resp.Identity.Digest)
	require.Equal(t, probed.ResolvedModel, resp.Identity.ResolvedModel)
}

// The same model file, probed by two runs: the same identity, never a pin
// violation.
func TestLlamaCPPSameModelIsTheSameIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var ids []eval.Identity
	for range 2 {
		srv, _ := replay(t, f32Routes)
		c := llamaClient(t, srv.URL)
		_, err := c.Probe(ctx)
		require.NoError(t, err)
		resp, err := c.Complete(ctx, chatReq(false))
		require.NoError(t, err)
		ids = append(ids, resp.Identity)
	}
	require.Equal(t, provider.IdentityHash(ids[0]), provider.IdentityHash(ids[1]))
	require.Empty(t, provider.IdentityMismatch(ids[1], ids[0]))
	require.True(t, provider.ModelMatches(ids[0].ResolvedModel, "tiny-drift-f32"))
	require.True(t, provider.ModelMatches(ids[0].ResolvedModel, "tiny-drift-f32.gguf"))
	require.False(t, provider.ModelMatches(ids[0].ResolvedModel, "tiny-drift-q4_0"))
}

// The same weights re-quantized and served behind an alias: a different
// identity, found by the probe before any case is sent, whatever the
// response echoes.
func TestLlamaCPPRequantizedModelIsAnIdentityChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f32, _ := replay(t, f32Routes)
	base, err := llamaClient(t, f32.URL).Probe(ctx)
	require.NoError(t, err)

	q4, chats := replay(t, q4Routes)
	c := llamaClient(t, q4.URL)
	id, err := c.Probe(ctx)
	require.NoError(t, err)
	require.Zero(t, *chats, "the probe sends no completion")
	require.Equal(t, "/models/tiny-drift-q4_0.gguf", id.ResolvedModel)
	require.Equal(t, "tiny-drift-llama", id.Extra["alias"])
	require.Equal(t, "2465802", id.Extra["size"])
	require.NotEqual(t, base.Digest, id.Digest)
	require.NotEqual(t, provider.IdentityHash(base), provider.IdentityHash(id))
	require.Contains(t, provider.IdentityMismatch(id, base), "digest")

	resp, err := c.Complete(ctx, chatReq(false))
	require.NoError(t, err)
	require.Equal(t, "The answer is no.", resp.Text)
	require.Equal(t, id.ResolvedModel, resp.Identity.ResolvedModel, "not the echoed whatever-the-client-sends")
}

// A malformed request's recorded HTTP 500 is a server error carrying the
// server's message.
func TestLlamaCPPRecordedError(t *testing.T) {
	t.Parallel()
	srv, _ := replay(t, map[string]string{"GET /props": "props.http", "GET /v1/models": "models.http",
		"POST /v1/chat/completions": "chat_no_messages.http"})
	_, err := llamaClient(t, srv.URL).Complete(context.Background(), chatReq(false))
	require.Equal(t, eval.ErrServer, eval.KindOf(err))
	require.Contains(t, err.Error(), "key 'messages' not found")
}

// shape is a JSON value's structure: object keys in order with their
// values' shapes, arrays by their first element, scalars by type.
func shape(t *testing.T, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var walk func() any
	walk = func() any {
		tok, err := dec.Token()
		require.NoError(t, err)
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' {
				var out []any
				for dec.More() {
					k, err := dec.Token()
					require.NoError(t, err)
					out = append(out, k, walk())
				}
				_, err := dec.Token()
				require.NoError(t, err)
				return out
			}
			var first any = "[]"
			for i := 0; dec.More(); i++ {
				if e := walk(); i == 0 {
					first = []any{"[", e}
				}
			}
			_, err := dec.Token()
			require.NoError(t, err)
			return first
		case json.Number:
			if strings.ContainsAny(v.String(), ".eE") {
				return "float"
			}
			return "int"
		case string:
			return "string"
		case bool:
			return "bool"
		}
		return "null"
	}
	return walk()
}

// The simulator's llama.cpp surface follows the recordings: /props and
// /v1/models with the same keys in the same order and the same value
// types, the chat response's model field echoing the request, the build as
// system fingerprint; and the provider reads the same identity facts from
// it.
func TestSimulatorLlamaCPPMatchesTheRecordings(t *testing.T) {
	t.Parallel()
	srv, err := sim.New(sim.Config{Models: []sim.Model{{Name: "tiny-drift", Profile: sim.Profile{Accuracy: 1},
		Identity: sim.Identity{Server: sim.ServerLlamaCPP, ModelPath: "/models/tiny-drift-f32.gguf", MaxModelLen: 256}}}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })

	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(hs.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	for path, name := range map[string]string{"/props": "props.http", "/v1/models": "models.http"} {
		resp, body := get(path)
		rec := readRecording(t, name)
		require.Equal(t, rec.status, resp.StatusCode, path)
		require.Equal(t, rec.header.Get("Content-Type"), resp.Header.Get("Content-Type"), path)
		require.True(t, reflect.DeepEqual(shape(t, rec.body), shape(t, body)), "%s: the simulator's shape differs from the recording:\n%s\n%s", path, rec.body, body)
	}
	_, props := get("/props")
	rec := readRecording(t, "props.http")
	require.JSONEq(t, string(rec.body), string(props), "the recorded model's defaults reproduce the recording")
	_, models := get("/v1/models")
	var got, want map[string]any
	require.NoError(t, json.Unmarshal(models, &got))
	require.NoError(t, json.Unmarshal(readRecording(t, "models.http").body, &want))
	got["data"].([]any)[0].(map[string]any)["created"] = want["data"].([]any)[0].(map[string]any)["created"]
	require.Equal(t, want, got)

	body := `{"model":"whatever-the-client-sends","messages":[{"role":"user","content":"What is 1 + 1?"}]}`
	resp, err := http.Post(hs.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var chat struct {
		Model             string `json:"model"`
		SystemFingerprint string `json:"system_fingerprint"`
	}
	require.NoError(t, json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&chat))
	require.Equal(t, "whatever-the-client-sends", chat.Model)
	require.Equal(t, "b4748-c392e5094", chat.SystemFingerprint)

	simID, err := llamaClient(t, hs.URL).Probe(context.Background())
	require.NoError(t, err)
	recorded, _ := replay(t, f32Routes)
	recID, err := llamaClient(t, recorded.URL).Probe(context.Background())
	require.NoError(t, err)
	require.Equal(t, recID, simID, "the simulator's defaults are the recorded server's identity")
}
