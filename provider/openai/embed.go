package openai

import (
	"context"
	"errors"
	"fmt"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
)

// Embed returns one embedding per text from the endpoint's /embeddings API
// with the client's model, retrying like Complete. It makes a Client usable
// as check.Embedder (embedding-similar checks); the model must be pinned, or
// the monitor itself drifts.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float64, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	var out [][]float64
	attempts, err := c.cfg.Retry.Do(ctx, func(ctx context.Context, _ int) error {
		actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
		resp, err := c.api.CreateEmbeddings(actx, goopenai.EmbeddingRequestStrings{Input: texts, Model: goopenai.EmbeddingModel(c.model)})
		if err != nil {
			return embedAttemptError(actx, err)
		}
		if len(resp.Data) != len(texts) {
			return &provider.AttemptError{Kind: eval.ErrMalformed, Err: fmt.Errorf("embeddings: %d vectors for %d texts", len(resp.Data), len(texts))}
		}
		out = make([][]float64, len(texts))
		for _, d := range resp.Data {
			if d.Index < 0 || d.Index >= len(texts) {
				return &provider.AttemptError{Kind: eval.ErrMalformed, Err: fmt.Errorf("embeddings: index %d out of range", d.Index)}
			}
			v := make([]float64, len(d.Embedding))
			for i, x := range d.Embedding {
				v[i] = float64(x)
			}
			out[d.Index] = v
		}
		return nil
	}, c.ctl.OnRetry)
	if err != nil {
		return nil, c.fail(attempts, err)
	}
	return out, nil
}

// embedAttemptError classifies an embeddings error for the retry loop.
func embedAttemptError(ctx context.Context, err error) error {
	var apiErr *goopenai.APIError
	var reqErr *goopenai.RequestError
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &provider.AttemptError{Kind: eval.ErrTimeout, Err: errors.New("embeddings: timed out")}
	case errors.As(err, &apiErr):
		return &provider.AttemptError{Kind: provider.KindForStatus(apiErr.HTTPStatusCode), Status: apiErr.HTTPStatusCode, Err: fmt.Errorf("embeddings: %s", apiErr.Message)}
	case errors.As(err, &reqErr):
		return &provider.AttemptError{Kind: provider.KindForStatus(reqErr.HTTPStatusCode), Status: reqErr.HTTPStatusCode, Err: fmt.Errorf("embeddings: HTTP %d", reqErr.HTTPStatusCode)}
	default:
		return &provider.AttemptError{Kind: eval.ErrTransport, Err: fmt.Errorf("embeddings: %w", err)}
	}
}
