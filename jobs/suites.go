package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/run"
)

// loadSuite loads the named suite from this process's config and caches it
// by content.
func (c *Client) loadSuite(ctx context.Context, name string) (*loadedSuite, error) {
	c.metrics.suiteLoads.Inc()
	s, err := c.p.LoadSuite(ctx, name)
	if err != nil {
		return nil, err
	}
	ls := &loadedSuite{suite: s, hash: suiteHash(s)}
	c.suites.put(suiteKey(name, ls.hash), ls)
	return ls, nil
}

// runSuite returns the suite run runID started with: the content its
// snapshot's hash names, from the cache (a run's batches and analysis parse
// nothing, and an edit of the suite's files mid-run does not reach them),
// else the suite as this process's config has it now. Loads are serialised,
// so batches missing the cache together load it once.
func (c *Client) runSuite(ctx context.Context, runID int64, snap run.Snapshot) (eval.Suite, error) {
	key := suiteKey(snap.Suite, snap.SuiteHash)
	if snap.SuiteHash == "" {
		key = fmt.Sprintf("%s@run:%d", snap.Suite, runID) // a run from before suite hashes
	}
	if ls := c.suites.get(key); ls != nil {
		return ls.suite, nil
	}
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	if ls := c.suites.get(key); ls != nil {
		return ls.suite, nil
	}
	ls, err := c.loadSuite(ctx, snap.Suite)
	if err != nil {
		return nil, err
	}
	if snap.SuiteHash != "" && ls.hash != snap.SuiteHash {
		// Another process started the run, or this one no longer holds the
		// content: the rest of the run uses the suite as it is now. Cases
		// whose content changed carry their new hash and are compared as
		// changed.
		c.logger.Warn("suite changed since the run started; its remaining batches run the suite as it is now",
			"suite", snap.Suite, "run_id", runID)
	}
	c.suites.put(key, ls) // the run's later batches use the same content
	return ls.suite, nil
}

// suiteCacheSize bounds the suites a process keeps loaded: a 100,000-case
// suite holds its rendered requests. Runs of one suite on several targets
// share an entry.
const suiteCacheSize = 8

// loadedSuite is a suite and the hash of its content.
type loadedSuite struct {
	suite eval.Suite
	hash  string
}

func suiteKey(name, hash string) string { return name + "@" + hash }

// suiteHash identifies a suite's content: its name and every case's id
// and content hash, in order.
func suiteHash(s eval.Suite) string {
	h := sha256.New()
	io.WriteString(h, s.Name())
	for _, c := range s.Cases() {
		fmt.Fprintf(h, "\x00%s\x00%s", c.ID, c.Hash)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// suiteCache is a small LRU of loaded suites, safe for concurrent use.
type suiteCache struct {
	mu      sync.Mutex
	keys    []string // least recently used first
	entries map[string]*loadedSuite
}

func (c *suiteCache) get(key string) *loadedSuite {
	c.mu.Lock()
	defer c.mu.Unlock()
	ls := c.entries[key]
	if ls != nil {
		c.touch(key)
	}
	return ls
}

func (c *suiteCache) put(key string, ls *loadedSuite) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]*loadedSuite{}
	}
	if _, ok := c.entries[key]; !ok && len(c.keys) >= suiteCacheSize {
		delete(c.entries, c.keys[0])
		c.keys = c.keys[1:]
	}
	c.entries[key] = ls
	c.touch(key)
}

// touch makes key the most recently used; c.mu is held.
func (c *suiteCache) touch(key string) {
	c.keys = slices.DeleteFunc(c.keys, func(k string) bool { return k == key })
	c.keys = append(c.keys, key)
}
