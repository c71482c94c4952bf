// Package weft writes Weft tasks in Go (GOOS=wasip1, -buildmode=c-shared):
// the imports of the Weft ABI (schema/ABI.md), weft_alloc, and Call, which
// decodes a task's arguments from the value encoding (schema/ENCODING.md)
// by the Go types of the task function's parameters, calls it, and encodes
// its result the same way. A task is exported with one line:
//
//	//go:wasmexport weft_task.inc
//	func incTask(ptr, n uint32) uint32 { return weft.Call("inc", ptr, n, Inc) }
//
// Go cannot emit custom sections, so the signature records are appended
// after the build by `weft pack MODULE --signatures FILE`.
//
// Types: bool; int8..int64, uint8..uint64 (int and uint are 64-bit);
// float32, float64; string (valid UTF-8); []T as list<T> ([]byte and
// slices of fixed-width numbers are copied in bulk); *T as option<T>;
// structs (exported fields, in order) as records and tuples, which share
// one encoding. A task returns nothing (unit), a value, an error, or a
// value and an error; a non-nil error fails the task with its message,
// and a panic stops it with the panic's text.
package weft

import (
	"fmt"
	"unsafe"
)

// The status codes a task export returns (schema/ABI.md).
const (
	statusOK               = 0
	statusError            = 1
	statusInvalidArguments = 2
)

//go:wasmimport weft output
func hostOutput(ptr unsafe.Pointer, n uint32)

//go:wasmimport weft abort
func hostAbort(ptr unsafe.Pointer, n uint32)

//go:wasmimport weft log
func hostLog(level uint32, ptr unsafe.Pointer, n uint32)

// The argument buffers handed out by weft_alloc, kept reachable until the
// instance ends (each task call gets a fresh instance).
var arguments [][]byte

//go:wasmexport weft_alloc
func weftAlloc(n uint32) uint32 {
	buf := make([]byte, n+1) // never empty, so its address is real
	arguments = append(arguments, buf)
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
}

func output(bytes []byte) {
	hostOutput(unsafe.Pointer(unsafe.SliceData(bytes)), uint32(len(bytes)))
}

// Log levels for Log.
const (
	LevelError = 1
	LevelWarn  = 2
	LevelInfo  = 3
	LevelDebug = 4
	LevelTrace = 5
)

// Log emits one record into the task's log (within its log budget).
func Log(level uint32, message string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(message)), uint32(len(message)))
}

// Logf formats a record at LevelInfo.
func Logf(format string, args ...any) {
	Log(LevelInfo, fmt.Sprintf(format, args...))
}

// Abort stops the task at once with a panic error carrying message.
func Abort(message string) {
	hostAbort(unsafe.Pointer(unsafe.StringData(message)), uint32(len(message)))
}

// Call runs task function f on the argument bytes [ptr, ptr+n) and
// returns the status the task export must return. name labels errors.
func Call(name string, ptr, n uint32, f any) (status uint32) {
	defer func() {
		if p := recover(); p != nil {
			Abort(fmt.Sprintf("panic in `%s`: %v", name, p))
		}
	}()
	var args []byte
	if n > 0 {
		args = unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
	}
	out, err, invalid := call(f, args)
	switch {
	case invalid != nil:
		output([]byte(fmt.Sprintf("invalid arguments for `%s`: %v", name, invalid)))
		return statusInvalidArguments
	case err != nil:
		output([]byte(err.Error()))
		return statusError
	default:
		output(out)
		return statusOK
	}
}
