package sched

import "time"

// entry is a job in the heap with its next due time, kept inline so that
// sifting does not chase pointers.
type entry struct {
	due time.Duration // since Scheduler.epoch; jitter included
	h   *Handle
}

// jobHeap is a min-heap of jobs by due time, for container/heap.
// It is owned by the Run goroutine.
type jobHeap []entry

func (q jobHeap) Len() int           { return len(q) }
func (q jobHeap) Less(i, k int) bool { return q[i].due < q[k].due }

func (q jobHeap) Swap(i, k int) {
	q[i], q[k] = q[k], q[i]
	q[i].h.index = i
	q[k].h.index = k
}

func (q *jobHeap) Push(x any) {
	e := x.(entry)
	e.h.index = len(*q)
	*q = append(*q, e)
}

func (q *jobHeap) Pop() any {
	old := *q
	n := len(old) - 1
	e := old[n]
	old[n] = entry{}
	e.h.index = -1
	*q = old[:n]
	return e
}

// runReq is one run of a job, scheduled to start at due.
type runReq struct {
	h   *Handle
	due time.Duration // since Scheduler.epoch
}

// fifo is a queue of runs waiting for a MaxInFlight slot.
type fifo struct {
	buf  []runReq
	head int
}

func (q *fifo) len() int { return len(q.buf) - q.head }

func (q *fifo) push(r runReq) {
	if q.head > 32 && q.head >= len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf = q.buf[:n]
		q.head = 0
	}
	q.buf = append(q.buf, r)
}

func (q *fifo) pop() (runReq, bool) {
	if q.head == len(q.buf) {
		return runReq{}, false
	}
	r := q.buf[q.head]
	q.buf[q.head] = runReq{}
	q.head++
	if q.head == len(q.buf) {
		q.buf = q.buf[:0]
		q.head = 0
	}
	return r, true
}

// drain empties the queue and returns the dropped runs.
func (q *fifo) drain() []runReq {
	rs := q.buf[q.head:]
	q.buf, q.head = nil, 0
	return rs
}
