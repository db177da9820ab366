package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/driftwatch/driftwatch/eval"
)

// IdentityHash digests the parts of an identity that say which model
// answered: provider, requested model, resolved model, fingerprint and
// digest (Extra is descriptive and left out). Two identities with the same
// hash are the same served model; the hash is what samples, the identity
// history, baselines and pins compare.
func IdentityHash(id eval.Identity) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s", id.Provider, id.RequestedModel, id.ResolvedModel, id.Fingerprint, id.Digest)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// IdentityMismatch compares an observed identity with a reference one (a
// baseline's) and returns why they are different served models, or "" when
// they are the same one. Only facts both sides report are compared: the
// digest (weights, file or revision), then the resolved model.
func IdentityMismatch(observed, reference eval.Identity) string {
	switch {
	case reference.Digest != "" && observed.Digest != "" && reference.Digest != observed.Digest:
		return fmt.Sprintf("digest %s, baseline had %s", observed.Digest, reference.Digest)
	case reference.ResolvedModel != "" && observed.ResolvedModel != "" && reference.ResolvedModel != observed.ResolvedModel:
		return fmt.Sprintf("resolved model %s, baseline had %s", observed.ResolvedModel, reference.ResolvedModel)
	}
	return ""
}

// ModelMatches reports whether a pinned model name names the resolved
// model: the same name, or, for a model file path (llama.cpp's
// model_path), the file's base name with or without its extension.
func ModelMatches(resolved, pinned string) bool {
	if resolved == pinned {
		return true
	}
	if !strings.Contains(resolved, "/") {
		return false
	}
	base := path.Base(resolved)
	return base == pinned || strings.TrimSuffix(base, path.Ext(base)) == pinned
}
