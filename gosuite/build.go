package gosuite

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// BuildTimeoutDefault bounds one build (go list and go build) when
// Options.Timeout is zero.
const BuildTimeoutDefault = 10 * time.Minute

// binaryName is the name of the cached binary in its cache folder.
const binaryName = "driftwatch"

// Options tune Build. The zero value builds into the user's cache folder
// with the go command found on PATH.
type Options struct {
	// Out, when set, is where the binary is written (driftwatch build -o);
	// it is copied from the cache, which is filled first.
	Out string
	// CacheDir holds the built binaries, one folder per content hash.
	// Default: driftwatch/gosuite in os.UserCacheDir.
	CacheDir string
	// Go is the go command. Default "go" from PATH: the user's toolchain,
	// which honours the module's go and toolchain lines.
	Go string
	// Env is the go command's environment. Default os.Environ(). Without
	// -mod in GOFLAGS, -mod=mod is added so that go.sum gains the checksums
	// of Driftwatch's own dependencies, as go get would add them.
	Env []string
	// Stderr receives the go command's output (compile errors, with
	// file:line). Nil: the output is part of the returned error.
	Stderr io.Writer
	// Timeout bounds the whole build. Default BuildTimeoutDefault.
	Timeout time.Duration
}

// Result is a built binary.
type Result struct {
	// Path is the binary: Options.Out when set, else the cached file.
	Path string
	// Cached is true when nothing had changed and no go build ran.
	Cached bool
	// Key is the content hash the cache is keyed by.
	Key string
	// Packages are the import paths of the linked packages that hold suites.
	Packages []string
}

// Build finds the Go suites in the packages patterns match (relative to
// dir, in the module that holds dir), generates a main package that
// registers them and calls cli.Main, and builds it with the user's go
// command and go.mod, as go test builds a test binary. The binary is cached
// under a hash of everything that goes into it (the go version and
// environment, go.mod, go.sum, the generated main, and the source of every
// package that does not come from the module cache), so that a second
// Build with nothing changed returns at once.
func Build(ctx context.Context, dir string, patterns []string, opts Options) (*Result, error) {
	if len(patterns) == 0 {
		return nil, errors.New("build Go suites: no package patterns")
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(opts.Timeout, BuildTimeoutDefault))
	defer cancel()
	goCmd := cmp.Or(opts.Go, "go")
	env := buildEnv(opts.Env)
	dir = cmp.Or(dir, ".")
	l, err := goList(ctx, goCmd, dir, env, patterns)
	if err != nil {
		return nil, fmt.Errorf("build Go suites: %w", err)
	}
	pkgs, err := discover(l, patterns)
	if err != nil {
		return nil, fmt.Errorf("build Go suites: %w", err)
	}
	src, err := generateMain(dir, patterns, pkgs)
	if err != nil {
		return nil, fmt.Errorf("build Go suites: %w", err)
	}
	res := &Result{}
	for _, p := range pkgs {
		res.Packages = append(res.Packages, p.ImportPath)
	}
	goEnv, err := goEnvKey(ctx, goCmd, dir, env)
	if err != nil {
		return nil, fmt.Errorf("build Go suites: %w", err)
	}
	res.Key, err = cacheKey(goEnv, l, src)
	if err != nil {
		return nil, fmt.Errorf("build Go suites: %w", err)
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("build Go suites: no cache folder (set Options.CacheDir): %w", err)
		}
		cacheDir = filepath.Join(uc, "driftwatch", "gosuite")
	}
	bin := filepath.Join(cacheDir, res.Key, binaryName)
	if _, err := os.Stat(bin); err == nil {
		res.Cached = true
	} else if bin, err = buildInto(ctx, goCmd, dir, env, l, cacheDir, goEnv, src, opts.Stderr, res); err != nil {
		return nil, fmt.Errorf("build Go suites %s: %w", strings.Join(patterns, " "), err)
	}
	res.Path = bin
	if opts.Out != "" {
		if err := copyExecutable(bin, opts.Out); err != nil {
			return nil, fmt.Errorf("build Go suites: %w", err)
		}
		res.Path = opts.Out
	}
	return res, nil
}

// buildEnv is env (default os.Environ()) with -mod=mod in GOFLAGS unless
// GOFLAGS already says -mod.
func buildEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	env = slices.Clone(env)
	flags := ""
	i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GOFLAGS=") })
	if i >= 0 {
		flags = strings.TrimPrefix(env[i], "GOFLAGS=")
	}
	if strings.Contains(flags, "-mod=") {
		return env
	}
	kv := "GOFLAGS=" + strings.TrimSpace(flags+" -mod=mod")
	if i >= 0 {
		env[i] = kv
	} else {
		env = append(env, kv)
	}
	return env
}

// goEnvKey returns the go environment that changes what a build produces.
func goEnvKey(ctx context.Context, goCmd, dir string, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goCmd, "env", "-json", "GOVERSION", "GOOS", "GOARCH", "GOFLAGS", "CGO_ENABLED", "GOEXPERIMENT", "GOAMD64", "GOARM64")
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// cacheKey hashes everything the binary is built from: the go environment,
// the main module's go.mod and go.sum, the generated main and, for every
// dependency, its module version when it comes from the module cache
// (immutable) or the content of its files when it does not (the main
// module, a replace to a local folder).
func cacheKey(goEnv []byte, l *listing, mainSrc []byte) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "gosuite build v1\n%s\n", goEnv)
	h.Write(mainSrc)
	for _, f := range []string{l.main.GoMod, filepath.Join(l.main.Dir, "go.sum")} {
		if err := hashFile(h, f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	seenMods := map[string]bool{}
	for _, p := range l.pkgs {
		if p.Standard {
			continue
		}
		m := p.Module
		if m != nil && m.Replace != nil {
			m = m.Replace
		}
		if m != nil && m.Version != "" {
			if id := m.Path + "@" + m.Version; !seenMods[id] {
				seenMods[id] = true
				fmt.Fprintf(h, "module %s\n", id)
			}
			continue
		}
		fmt.Fprintf(h, "package %s\n", p.ImportPath)
		for _, f := range slices.Concat(p.GoFiles, p.EmbedFiles) {
			if err := hashFile(h, filepath.Join(p.Dir, f)); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

func hashFile(h hash.Hash, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	fmt.Fprintf(h, "file %s\n", path)
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	return nil
}

// buildInto builds the generated main src and moves the binary into the
// cache, under the key of its inputs as they are after the build: go build
// with -mod=mod may have added to go.mod and go.sum, and the next Build
// reads them as they are now. It sets res.Key and returns the binary.
func buildInto(ctx context.Context, goCmd, dir string, env []string, l *listing, cacheDir string, goEnv, src []byte, stderr io.Writer, res *Result) (string, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create the cache folder: %w", err)
	}
	work, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return "", fmt.Errorf("create a build folder: %w", err)
	}
	defer os.RemoveAll(work)
	tmpBin, err := goBuild(ctx, goCmd, dir, env, l.main.Dir, work, src, stderr)
	if err != nil {
		return "", err
	}
	if res.Key, err = cacheKey(goEnv, l, src); err != nil {
		return "", err
	}
	keyDir := filepath.Join(cacheDir, res.Key)
	if err := os.MkdirAll(keyDir, 0o755); err != nil {
		return "", fmt.Errorf("create the cache folder: %w", err)
	}
	// The generated main is kept next to the binary, to read when in doubt.
	if err := os.WriteFile(filepath.Join(keyDir, "main.go"), src, 0o644); err != nil {
		return "", fmt.Errorf("write the generated main into the cache: %w", err)
	}
	bin := filepath.Join(keyDir, binaryName)
	if err := os.Rename(tmpBin, bin); err != nil {
		return "", fmt.Errorf("move the binary into the cache: %w", err)
	}
	return bin, nil
}

// goBuild builds the generated main src in the folder work and returns the
// binary. The main package exists only in an overlay that places it in
// modDir, so that it builds with the module's go.mod (and may import its
// internal packages) without writing into the user's folder.
func goBuild(ctx context.Context, goCmd, dir string, env []string, modDir, work string, src []byte, stderr io.Writer) (string, error) {
	mainFile := filepath.Join(work, "main.go")
	if err := os.WriteFile(mainFile, src, 0o644); err != nil {
		return "", fmt.Errorf("write the generated main: %w", err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(modDir, genDir, "main.go"): mainFile},
	})
	if err != nil {
		return "", err
	}
	overlayFile := filepath.Join(work, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		return "", fmt.Errorf("write the overlay: %w", err)
	}
	tmpBin := filepath.Join(work, binaryName)
	cmd := exec.CommandContext(ctx, goCmd, "build", "-overlay", overlayFile, "-o", tmpBin, filepath.Join(modDir, genDir))
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	if stderr != nil {
		cmd.Stdout, cmd.Stderr = stderr, stderr
	} else {
		cmd.Stdout, cmd.Stderr = &out, &out
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("go build: %w", context.Cause(ctx))
		}
		if stderr != nil {
			return "", fmt.Errorf("go build: %w (its errors are above)", err)
		}
		return "", fmt.Errorf("go build: %w:\n%s", err, strings.TrimSpace(out.String()))
	}
	return tmpBin, nil
}

// copyExecutable copies the binary src to dst through a temporary file
// renamed into place.
func copyExecutable(src, dst string) (err error) {
	if d := filepath.Dir(dst); d != "." {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", dst, err)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
