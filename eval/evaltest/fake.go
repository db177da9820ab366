package evaltest

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/driftwatch/driftwatch/eval"
)

// fakeIdentity is the identity of fake targets' responses.
var fakeIdentity = eval.Identity{Provider: "fake", RequestedModel: "fake", ResolvedModel: "fake"}

// Fake returns a target that answers with responses in turn, starting over
// after the last one; with no responses it answers "". It is safe for
// concurrent use (concurrent callers get successive responses in an
// unspecified order).
func Fake(responses ...string) eval.Target {
	var n atomic.Uint64
	return FakeFunc(func(*eval.Request) (string, error) {
		if len(responses) == 0 {
			return "", nil
		}
		return responses[(n.Add(1)-1)%uint64(len(responses))], nil
	})
}

// FakeFunc returns a target whose response text is f(req). A non-nil error
// is returned as is (wrap it in an *eval.TargetError to choose its kind).
// Usage counts whitespace-separated words as tokens.
func FakeFunc(f func(req *eval.Request) (string, error)) eval.Target {
	return eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		text, err := f(req)
		if err != nil {
			return nil, err
		}
		in := 0
		for _, m := range req.Messages {
			in += len(strings.Fields(m.Content))
		}
		return &eval.Response{
			Text:         text,
			FinishReason: "stop",
			Usage:        eval.Usage{InputTokens: in, OutputTokens: len(strings.Fields(text))},
			Identity:     fakeIdentity,
			Attempts:     1,
		}, nil
	})
}
