package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/provider"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
)

// identityCache remembers the last identity's hash and JSON: a run almost
// always sees one identity, so most samples skip both encodings.
type identityCache struct {
	mu   sync.Mutex
	last eval.Identity
	hash string
	js   json.RawMessage
}

func (c *identityCache) encode(id eval.Identity) (string, json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.js != nil && sameIdentity(c.last, id) {
		return c.hash, c.js
	}
	c.last, c.hash, c.js = id, IdentityHash(id), encodeJSON(id)
	return c.hash, c.js
}

func sameIdentity(a, b eval.Identity) bool {
	return a.Provider == b.Provider && a.RequestedModel == b.RequestedModel && a.ResolvedModel == b.ResolvedModel &&
		a.Fingerprint == b.Fingerprint && a.Digest == b.Digest && maps.Equal(a.Extra, b.Extra)
}

// IdentityHash digests the parts of an identity that say which model
// answered: the one definition (provider.IdentityHash) samples, the
// identity history, baselines and pins compare.
func IdentityHash(id eval.Identity) string { return provider.IdentityHash(id) }

// runIdentity finds the identity that answered most samples of the given
// runs. Runs without an answered sample (stopped by the pin before any
// call) fall back to the identity recorded last with them.
func (l *Lifecycle) runIdentity(ctx context.Context, targetID int64, runIDs []int64) (*eval.Identity, error) {
	rec, err := l.store.DominantIdentity(ctx, targetID, runIDs)
	if errors.Is(err, storage.ErrNotFound) {
		return l.recordedIdentity(ctx, targetID, runIDs)
	}
	if err != nil {
		return nil, err
	}
	return decodeIdentity(rec)
}

// recordedIdentity finds the identity recorded last as the first or last
// sighting in one of the runs.
func (l *Lifecycle) recordedIdentity(ctx context.Context, targetID int64, runIDs []int64) (*eval.Identity, error) {
	hist, err := l.store.IdentityHistory(ctx, targetID)
	if err != nil {
		return nil, err
	}
	var best *storage.Identity
	for i := range hist {
		h := &hist[i]
		if inRuns(h, runIDs) && (best == nil || h.LastSeen.After(best.LastSeen)) {
			best = h
		}
	}
	if best == nil {
		return nil, nil
	}
	return decodeIdentity(*best)
}

func inRuns(h *storage.Identity, runIDs []int64) bool {
	return h.LastRunID != nil && slices.Contains(runIDs, *h.LastRunID) || h.FirstRunID != nil && slices.Contains(runIDs, *h.FirstRunID)
}

// runIdentities are the identities recorded with a run (in any batch, in
// any process).
func (l *Lifecycle) runIdentities(ctx context.Context, targetID, runID int64) ([]eval.Identity, error) {
	hist, err := l.store.IdentityHistory(ctx, targetID)
	if err != nil {
		return nil, err
	}
	var out []eval.Identity
	for i := range hist {
		if !inRuns(&hist[i], []int64{runID}) {
			continue
		}
		id, err := decodeIdentity(hist[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *id)
	}
	return out, nil
}

func decodeIdentity(rec storage.Identity) (*eval.Identity, error) {
	var id eval.Identity
	if err := json.Unmarshal(rec.Identity, &id); err != nil {
		return nil, fmt.Errorf("decode identity %s: %w", rec.IdentityHash, err)
	}
	return &id, nil
}

// ReportIdentity is an identity as reports show it.
func ReportIdentity(id eval.Identity) *report.Identity {
	return &report.Identity{Provider: id.Provider, RequestedModel: id.RequestedModel, ResolvedModel: id.ResolvedModel,
		Fingerprint: id.Fingerprint, Digest: id.Digest, Extra: id.Extra}
}
