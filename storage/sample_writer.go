package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Sample writer defaults.
const (
	SampleWriterBatchSizeDefault     = 500
	SampleWriterFlushIntervalDefault = 200 * time.Millisecond
)

// ErrWriterClosed is returned by SampleWriter.Write after Close.
var ErrWriterClosed = errors.New("sample writer closed")

// SampleWriterOpts are optional knobs for NewSampleWriter. Zero means default.
type SampleWriterOpts struct {
	// BatchSize is the number of samples per flush. Default 500.
	BatchSize int
	// FlushInterval bounds how long a written sample waits before it is
	// flushed. Default 200ms.
	FlushInterval time.Duration
	// Buffer is the number of samples Write can queue before it blocks
	// (backpressure). Default 2*BatchSize.
	Buffer int
	// Retries is how many times a failed flush is retried (writes are
	// idempotent, so retrying is safe). Default 3; negative disables.
	Retries int
	// Journal, when its Dir is set, is where Write appends each sample
	// before it returns, until a flush stores it (see Journal).
	Journal Journal
}

// SampleWriter batches samples in the background and writes them with the
// idempotency rules of WriteSamples. Write and Close are safe for concurrent
// use. The writer's goroutine exits on Close or when the ctx given to
// NewSampleWriter is cancelled; samples not yet flushed at cancellation are
// lost, which a resumed run repairs (see DoneSamples), unless the writer
// keeps a journal: then they are stored by ReplayJournal.
type SampleWriter struct {
	store   *Store
	runID   int64
	opts    SampleWriterOpts
	journal *journal // nil: none

	ch     chan queued
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.RWMutex // guards closed against sends on a closed ch
	closed bool
	// closing is closed when Close starts, so a Write blocked on a full
	// buffer lets go of mu; closeOnce guards it.
	closing   chan struct{}
	closeOnce sync.Once

	closeErr  error         // result of the first Close
	closeDone chan struct{} // closed once closeErr is set

	errMu sync.Mutex
	err   error // first flush error; sticky
}

// queued is a sample on its way to a flush, with its journal file.
type queued struct {
	sample Sample
	seg    *segment // nil: not journaled
}

// NewSampleWriter starts a batching writer. If runID is not zero, samples with
// a zero RunID get it, and samples with another RunID are rejected.
func (s *Store) NewSampleWriter(ctx context.Context, runID int64, opts SampleWriterOpts) *SampleWriter {
	if opts.BatchSize <= 0 {
		opts.BatchSize = SampleWriterBatchSizeDefault
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = SampleWriterFlushIntervalDefault
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 2 * opts.BatchSize
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &SampleWriter{
		store:     s,
		runID:     runID,
		opts:      opts,
		ch:        make(chan queued, opts.Buffer),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		closing:   make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	if opts.Journal.Dir != "" {
		w.journal = &journal{spec: opts.Journal, segmentMax: journalSegmentMax}
	}
	go w.loop()
	return w
}

// Write queues a sample, after appending it to the journal if the writer
// keeps one. It blocks while the buffer is full, and returns an error after
// Close, after the writer's ctx is cancelled, or once a flush has failed for
// good (the error of that flush).
func (w *SampleWriter) Write(s Sample) error {
	if w.runID != 0 {
		if s.RunID == 0 {
			s.RunID = w.runID
		} else if s.RunID != w.runID {
			return fmt.Errorf("write sample %s/%d: run %d does not match writer's run %d", s.CaseKey, s.SampleIdx, s.RunID, w.runID)
		}
	}
	if err := w.Err(); err != nil {
		return err
	}
	cleanSample(&s)
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrWriterClosed
	}
	q := queued{sample: s, seg: w.journalAppend(&s)}
	var err error
	select {
	case w.ch <- q:
		return nil
	case <-w.closing:
		err = ErrWriterClosed
	case <-w.ctx.Done():
		err = fmt.Errorf("write sample %s/%d: %w", s.CaseKey, s.SampleIdx, context.Cause(w.ctx))
	}
	w.journalStored(q.seg, 1) // not queued: nothing will store it
	return err
}

// journalAppend appends s to the journal, if any, and returns its file. A
// journal that fails is given up (with a warning): the samples still go to
// the database, only without a copy on disk.
func (w *SampleWriter) journalAppend(s *Sample) *segment {
	if w.journal == nil {
		return nil
	}
	seg, err := w.journal.append(s)
	if err != nil {
		w.store.logger.WarnContext(w.ctx, "sample journal failed, going on without it", "run_id", w.runID, "error", err)
	}
	return seg
}

// journalStored tells the journal that n samples of seg are stored.
func (w *SampleWriter) journalStored(seg *segment, n int) {
	if seg == nil {
		return
	}
	if err := w.journal.stored(seg, n); err != nil {
		w.store.logger.WarnContext(w.ctx, "sample journal", "run_id", w.runID, "error", err)
	}
}

// Err returns the first flush error, if any.
func (w *SampleWriter) Err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// Close flushes every queued sample and stops the writer. It returns the first
// flush error, or ctx's error if ctx expires first (the remaining samples are
// then abandoned). If the writer's own ctx was cancelled before Close, queued
// samples were abandoned and Close says so. Close is idempotent.
func (w *SampleWriter) Close(ctx context.Context) error {
	w.closeOnce.Do(func() { close(w.closing) })
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		select {
		case <-w.closeDone:
			return w.closeErr
		case <-ctx.Done():
			return fmt.Errorf("close sample writer: %w", ctx.Err())
		}
	}
	w.closed = true
	close(w.ch)
	w.mu.Unlock()

	var err error
	select {
	case <-w.done:
		if cerr := w.ctx.Err(); cerr != nil { // the writer's ctx ended first
			err = fmt.Errorf("close sample writer: stopped before close, unflushed samples lost: %w", context.Cause(w.ctx))
		}
	case <-ctx.Done():
		w.cancel()
		<-w.done
		err = fmt.Errorf("close sample writer: %w", ctx.Err())
	}
	w.cancel()
	if w.journal != nil {
		// Removed if every sample is stored, else kept for ReplayJournal.
		if jerr := w.journal.close(); jerr != nil {
			w.store.logger.WarnContext(w.ctx, "sample journal", "run_id", w.runID, "error", jerr)
		}
	}
	w.closeErr = errors.Join(err, w.Err())
	close(w.closeDone)
	return w.closeErr
}

func (w *SampleWriter) setErr(err error) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// batch is the samples of one flush and, for a writer with a journal,
// their journal files (at the same indexes).
type batch struct {
	samples []Sample
	segs    []*segment
}

func (b *batch) add(q queued) {
	b.samples = append(b.samples, q.sample)
	if q.seg != nil {
		b.segs = append(b.segs, q.seg)
	}
}

// reset empties b for reuse, letting go of the samples' outputs.
func (b *batch) reset() {
	clear(b.samples)
	clear(b.segs)
	b.samples, b.segs = b.samples[:0], b.segs[:0]
}

// loop batches samples and flushes them in a second goroutine, one flush at
// a time, so that samples keep arriving while a batch is written (double
// buffering). While the flusher is idle, a batch of flushEagerMin samples
// is flushed at once rather than waiting to fill: Close then waits only
// for the few samples that arrived during the last flush, not for a whole
// BatchSize COPY. A full batch waiting on a busy flusher stops receiving,
// which backs up into Write.
func (w *SampleWriter) loop() {
	defer close(w.done)
	next := &batch{samples: make([]Sample, 0, w.opts.BatchSize)}
	spare := &batch{samples: make([]Sample, 0, w.opts.BatchSize)}
	eager := max(1, min(w.opts.BatchSize, flushEagerMin))
	ticker := time.NewTicker(w.opts.FlushInterval)
	defer ticker.Stop()
	flushed := make(chan *batch, 1)
	busy := false
	start := func() {
		b := next
		next, spare = spare, nil
		busy = true
		go func() {
			w.commit(b)
			flushed <- b
		}()
	}
	reuse := func(b *batch) {
		b.reset()
		spare, busy = b, false
	}
	wait := func() {
		if busy {
			reuse(<-flushed)
		}
	}
	defer wait()
	for {
		in := w.ch
		if busy && len(next.samples) >= w.opts.BatchSize {
			in = nil // full: wait for the flusher
		}
		select {
		case q, ok := <-in:
			if !ok {
				wait()
				if len(next.samples) > 0 {
					w.commit(next)
				}
				return
			}
			next.add(q)
			if !busy && len(next.samples) >= eager {
				start()
			}
		case b := <-flushed:
			reuse(b)
			if len(next.samples) >= eager {
				start()
			}
		case <-ticker.C:
			if !busy && len(next.samples) > 0 {
				start()
			}
		case <-w.ctx.Done():
			return
		}
	}
}

// commit flushes b, unless a flush already failed for good (then b is
// dropped), and tells the journal which samples are stored.
func (w *SampleWriter) commit(b *batch) {
	if w.Err() != nil || !w.flush(b.samples) {
		return // kept in the journal
	}
	for i := 0; i < len(b.segs); {
		j := i + 1
		for j < len(b.segs) && b.segs[j] == b.segs[i] {
			j++
		}
		w.journalStored(b.segs[i], j-i)
		i = j
	}
}

// flushTimeout bounds one flush attempt.
const flushTimeout = 2 * time.Minute

// flushEagerMin is the smallest batch flushed as soon as the flusher is
// idle (smaller ones wait for FlushInterval or Close).
const flushEagerMin = 64

// flush writes batch, retrying the failures that may pass, and reports
// whether it is stored. A failure that is not retried becomes the writer's
// sticky error; a flush abandoned because the writer's ctx ended is not one.
func (w *SampleWriter) flush(batch []Sample) bool {
	samples := dedupeSamples(batch)
	var err error
	for attempt := 0; attempt <= max(w.opts.Retries, 0); attempt++ {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(attempt*attempt) * 100 * time.Millisecond)
			select {
			case <-w.ctx.Done():
				t.Stop()
				return false
			case <-t.C:
			}
			w.store.logger.WarnContext(w.ctx, "retrying sample flush", "run_id", w.runID, "attempt", attempt, "error", err)
		}
		// A flush never blocks forever (a stuck connection, a lock held by
		// another session): past flushTimeout it fails and is retried.
		fctx, cancel := context.WithTimeout(w.ctx, flushTimeout)
		err = w.store.writeSamplesCopy(fctx, samples)
		cancel()
		if err == nil {
			return true
		}
		if w.ctx.Err() != nil || isPermanent(err) {
			break // cancelled or not retryable
		}
	}
	if w.ctx.Err() != nil {
		return false // abandoned: Close or the caller reports the cancellation
	}
	if isPermanent(err) {
		// Something in one sample was refused: one bad sample must not cost
		// the others of its batch.
		err = w.flushEach(samples)
		if err == nil {
			return true
		}
	}
	w.setErr(fmt.Errorf("flush %d samples: %w", len(samples), err))
	return false
}

// flushEach writes samples one at a time; a sample the database still
// refuses is written once more stripped to what cannot fail (its JSON
// columns dropped, its text reduced to ASCII), its exact output kept in
// OutputBytes. It returns the errors of samples that could not be stored
// at all.
func (w *SampleWriter) flushEach(samples []Sample) error {
	var errs []error
	for i := range samples {
		one := samples[i : i+1]
		fctx, cancel := context.WithTimeout(w.ctx, flushTimeout)
		err := w.store.writeSamplesCopy(fctx, one)
		if err != nil && isPermanent(err) {
			w.store.logger.WarnContext(w.ctx, "sample refused by the database, storing it stripped",
				"run_id", samples[i].RunID, "case", samples[i].CaseKey, "sample", samples[i].SampleIdx, "error", err)
			stripped := stripSample(samples[i])
			err = w.store.writeSamplesCopy(fctx, []Sample{stripped})
		}
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("sample %s/%d: %w", samples[i].CaseKey, samples[i].SampleIdx, err))
		}
	}
	return errors.Join(errs...)
}

// stripSample is s reduced to columns that cannot be refused: no JSON, text
// quoted to ASCII, the exact output kept as bytes.
func stripSample(s Sample) Sample {
	ascii := func(t string) string {
		q := strconv.QuoteToASCII(t)
		return q[1 : len(q)-1]
	}
	if s.OutputBytes == nil {
		s.OutputBytes = []byte(s.Output)
	}
	s.Output = ascii(s.Output)
	s.Error = ascii(s.Error)
	if s.Answer != nil {
		a := ascii(*s.Answer)
		s.Answer = &a
	}
	s.Request, s.Raw, s.Identity, s.Checks = nil, nil, nil, nil
	return s
}
