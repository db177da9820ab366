package storage

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Journal names a run's sample journal: files in the local folder Dir
// that hold the samples a SampleWriter accepted and has not stored yet.
// Write appends each sample to the journal before it returns, so a process
// killed before the flush loses none of them: ReplayJournal stores them
// the next time the run is executed (resumed, or its batch retried) on
// this machine. A file is removed once every sample in it is stored, so a
// writer that closes with every sample stored leaves nothing behind.
type Journal struct {
	// Dir is the folder of the journal files (created if missing).
	Dir string
	// Run is the run whose samples are journaled. Its start time is part
	// of the file names, since run ids start over in another database.
	Run Run
}

// journalSegmentMax is the size past which a journal file is closed and a
// new one started, so that stored samples' files can be removed during a
// long run.
const journalSegmentMax = 8 << 20

// pattern is the glob of j's files; a writer's files replace the * with a
// random string.
func (j Journal) pattern() string {
	return filepath.Join(j.Dir, fmt.Sprintf("run-%d-%d-*.journal", j.Run.ID, j.Run.StartedAt.UnixMicro()))
}

// journal is a SampleWriter's open journal. Samples are gob-encoded, one
// stream per file; the file being appended to is locked (flock) so that
// ReplayJournal in another process leaves it alone.
type journal struct {
	spec       Journal
	segmentMax int64 // journalSegmentMax but in tests

	mu  sync.Mutex
	cur *segment
	enc *gob.Encoder
	err error // the first failure: the writer goes on without a journal
}

// segment is one journal file and the count of its samples not yet stored.
type segment struct {
	path    string
	f       *os.File
	size    int64
	pending int
	closed  bool // no longer appended to: removed once pending is 0
}

func (s *segment) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.size += int64(n)
	return n, err
}

// append writes s to the journal and returns its segment, to be passed to
// stored once s is stored; nil (and the error, once) if journaling failed.
func (j *journal) append(s *Sample) (*segment, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return nil, nil
	}
	if j.cur == nil || j.cur.size >= j.segmentMax {
		if err := j.rotate(); err != nil {
			return nil, j.fail(err)
		}
	}
	if err := j.enc.Encode(s); err != nil {
		return nil, j.fail(fmt.Errorf("append to journal %s: %w", j.cur.path, err))
	}
	j.cur.pending++
	return j.cur, nil
}

// rotate closes the current file and starts a new one; j.mu is held.
func (j *journal) rotate() error {
	if old := j.cur; old != nil {
		j.cur, j.enc = nil, nil
		old.closed = true
		if err := j.release(old); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(j.spec.Dir, 0o700); err != nil {
		return fmt.Errorf("journal folder: %w", err)
	}
	// Created under a name ReplayJournal does not look at, and renamed
	// once locked, so that it never replays a file before it is locked.
	dir, pattern := filepath.Split(j.spec.pattern())
	f, err := os.CreateTemp(dir, "."+pattern)
	if err != nil {
		return fmt.Errorf("create journal: %w", err)
	}
	path := filepath.Join(dir, filepath.Base(f.Name())[1:])
	err = lock(f)
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("start journal %s: %w", path, err)
	}
	j.cur = &segment{path: path, f: f}
	j.enc = gob.NewEncoder(j.cur)
	return nil
}

// lock takes f's exclusive lock without waiting; syscall.EWOULDBLOCK says
// another open file holds it. Closing f (or the end of its process)
// releases it.
func lock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// fail stops journaling after err; j.mu is held. Files already written
// stay until their samples are stored.
func (j *journal) fail(err error) error {
	j.err = err
	if cur := j.cur; cur != nil {
		j.cur, j.enc = nil, nil
		cur.closed = true
		err = errors.Join(err, j.release(cur))
	}
	return err
}

// release closes a closed segment's file and removes it if every sample in
// it is stored; j.mu is held.
func (j *journal) release(s *segment) error {
	if s.f != nil {
		err := s.f.Close() // unlocks it
		s.f = nil
		if err != nil {
			return fmt.Errorf("close journal %s: %w", s.path, err)
		}
	}
	if s.pending > 0 {
		return nil
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}

// stored records that n samples of s are stored (or were never queued).
func (j *journal) stored(s *segment, n int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	s.pending -= n
	if s.closed && s.pending == 0 {
		return j.release(s)
	}
	return nil
}

// close closes the journal's file: removed if every sample in it is
// stored, else kept for ReplayJournal.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	cur := j.cur
	if cur == nil {
		return nil
	}
	j.cur, j.enc = nil, nil
	cur.closed = true
	return j.release(cur)
}

// ReplayJournal stores the samples that j's files hold, left by writers
// that did not close (a killed process), and removes the files. Files a
// live writer is appending to are left alone; a sample cut short by the
// kill ends its file; a file that cannot be stored stays (the error says
// why) and the others are still replayed. It returns how many samples it
// stored.
func (s *Store) ReplayJournal(ctx context.Context, j Journal) (int, error) {
	paths, err := filepath.Glob(j.pattern())
	if err != nil {
		return 0, fmt.Errorf("replay journal of run %d: %w", j.Run.ID, err)
	}
	total := 0
	var errs []error
	for _, path := range paths {
		n, err := s.replayFile(ctx, j.Run.ID, path)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("replay journal %s: %w", path, err))
		}
	}
	return total, errors.Join(errs...)
}

func (s *Store) replayFile(ctx context.Context, runID int64, path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil // replayed by another process meanwhile
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := lock(f); errors.Is(err, syscall.EWOULDBLOCK) {
		return 0, nil // a live writer's
	} else if err != nil {
		return 0, fmt.Errorf("lock %s: %w", path, err)
	}
	// A writer of its own: retries, and a sample the database refuses is
	// stored stripped, as when the journal was written.
	w := s.NewSampleWriter(ctx, runID, SampleWriterOpts{})
	dec := gob.NewDecoder(f)
	n := 0
	for {
		var smp Sample
		if err := dec.Decode(&smp); err != nil {
			if !errors.Is(err, io.EOF) {
				s.logger.WarnContext(ctx, "journal ends with a sample cut short", "file", path, "error", err)
			}
			break
		}
		if smp.RunID != runID {
			continue
		}
		if err := w.Write(smp); err != nil {
			break // Close says why
		}
		n++
	}
	if err := w.Close(ctx); err != nil {
		return 0, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return n, fmt.Errorf("remove %s: %w", path, err)
	}
	return n, nil
}
