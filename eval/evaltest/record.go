package evaltest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/driftwatch/driftwatch/eval"
)

// record is the -record test flag. Test helper packages may register flags;
// DRIFTWATCH_RECORD=1 does the same where flags are awkward.
var record = flag.Bool("record", false, "evaltest: call live targets and rewrite recordings")

// EnvRecord is the environment variable that, set to 1, turns on recording
// like the -record flag.
const EnvRecord = "DRIFTWATCH_RECORD"

// Recording reports whether recorded targets call the live target and
// rewrite their files (-record or DRIFTWATCH_RECORD=1).
func Recording() bool {
	return *record || os.Getenv(EnvRecord) == "1"
}

// entry is one line of a recording file.
type entry struct {
	// Key is a hash of the whole request (messages, params, tools).
	Key string `json:"key"`
	// N is the position of the response among identical requests.
	N int `json:"n"`
	// Prompt is the start of the last message, to make the file readable.
	Prompt   string        `json:"prompt,omitempty"`
	Response eval.Response `json:"response"`
}

// Recorded returns a target backed by the JSONL file at path.
//
// When recording (see Recording), it forwards each request to live and, when
// the test ends, writes every (request hash, n) → response pair to path,
// sorted, where n counts identical requests: the nth identical request is
// answered with the nth recorded response on replay. Failed live calls are
// returned but not recorded. The file holds responses and a short prompt
// excerpt, never credentials (Response.Raw is not kept).
//
// Otherwise it replays path and never calls live (which may be nil). A
// request with no recorded response fails the test with a message saying
// how to re-record, and the call returns an error (the sample is Errored).
func Recorded(t testing.TB, path string, live eval.Target) eval.Target {
	t.Helper()
	return recorded(t, path, live, Recording())
}

func recorded(t testing.TB, path string, live eval.Target, rec bool) eval.Target {
	t.Helper()
	if rec {
		if live == nil {
			t.Fatalf("evaltest: recording %s needs a live target", path)
		}
		r := &recorder{live: live, counts: make(map[string]int)}
		t.Cleanup(func() {
			if err := r.write(path); err != nil {
				t.Errorf("evaltest: %v", err)
			}
		})
		return r
	}
	p := &player{t: t, path: path, counts: make(map[string]int)}
	if err := p.load(); err != nil {
		t.Fatalf("evaltest: %v (record it with go test -record or %s=1)", err, EnvRecord)
	}
	return p
}

func requestKey(req *eval.Request) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// maxPromptRunes bounds the prompt excerpt stored with each entry.
const maxPromptRunes = 80

func promptExcerpt(req *eval.Request) string {
	if len(req.Messages) == 0 {
		return ""
	}
	return truncate(req.Messages[len(req.Messages)-1].Content, maxPromptRunes)
}

type recorder struct {
	live    eval.Target
	mu      sync.Mutex
	counts  map[string]int
	entries []entry
}

func (r *recorder) Complete(ctx context.Context, req *eval.Request) (*eval.Response, error) {
	key, err := requestKey(req)
	if err != nil {
		return nil, &eval.TargetError{Kind: eval.ErrBadRequest, Provider: "recorder", Err: err}
	}
	r.mu.Lock()
	n := r.counts[key]
	r.counts[key]++
	r.mu.Unlock()
	resp, err := r.live.Complete(ctx, req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.entries = append(r.entries, entry{Key: key, N: n, Prompt: promptExcerpt(req), Response: *resp})
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) write(path string) error {
	r.mu.Lock()
	entries := slices.Clone(r.entries)
	r.mu.Unlock()
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.N, b.N))
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range entries {
		entries[i].Response.Raw = nil
		if err := enc.Encode(&entries[i]); err != nil {
			return fmt.Errorf("encode recording %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write recording: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write recording: %w", err)
	}
	return nil
}

type player struct {
	t         testing.TB
	path      string
	responses map[string][]eval.Response // by key, indexed by n
	mu        sync.Mutex
	counts    map[string]int
}

func (p *player) load() error {
	f, err := os.Open(p.path)
	if err != nil {
		return fmt.Errorf("open recording: %w", err)
	}
	defer f.Close()
	p.responses = make(map[string][]eval.Response)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("%s:%d: %w", p.path, line, err)
		}
		rs := p.responses[e.Key]
		if e.N != len(rs) {
			return fmt.Errorf("%s:%d: entry n=%d for key %s out of sequence (want %d)", p.path, line, e.N, e.Key, len(rs))
		}
		p.responses[e.Key] = append(rs, e.Response)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read recording %s: %w", p.path, err)
	}
	return nil
}

var errNotRecorded = errors.New("request not recorded")

func (p *player) Complete(ctx context.Context, req *eval.Request) (*eval.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key, err := requestKey(req)
	if err != nil {
		return nil, &eval.TargetError{Kind: eval.ErrBadRequest, Provider: "recorded", Err: err}
	}
	p.mu.Lock()
	n := p.counts[key]
	p.counts[key]++
	rs := p.responses[key]
	p.mu.Unlock()
	if n >= len(rs) {
		p.t.Errorf("evaltest: %s has no recorded response for request %s #%d (prompt %q; %d recorded): "+
			"the suite changed or asks more often; re-record with go test -record or %s=1",
			p.path, key, n, promptExcerpt(req), len(rs), EnvRecord)
		return nil, &eval.TargetError{Kind: eval.ErrBadRequest, Provider: "recorded", Model: filepath.Base(p.path),
			Err: fmt.Errorf("%w: %s #%d", errNotRecorded, key, n)}
	}
	resp := rs[n]
	return &resp, nil
}
