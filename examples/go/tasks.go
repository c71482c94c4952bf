// Weft tasks in Go: the Rust test kit's tasks (tests/guests/testkit) that
// Go has types for, so that the tests can check both give the same bytes,
// and three that show what the sandbox's WASI layer gives Go: a file read
// (refused: "not capable") and os.Exit (a task error); `chatty` prints.
// Build and pack (see guest-sdk/go/README.md):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o tasks-go.raw.wasm .
//	weft pack tasks-go.raw.wasm --signatures tasks.weft -o tasks-go.wasm
package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"

	"weft.local/weft"
)

// Account is a row of the accounts example.
type Account struct {
	Name    string
	Balance int64
}

// A pair, as tuple<i64, string>: tuples and records share one encoding.
type numberAndName struct {
	N    int64
	Name string
}

type nameAndNumber struct {
	Name string
	N    int64
}

func Inc(x int64) int64          { return x + 1 }
func Add(a, b int64) int64       { return a + b }
func Scale(x, k float64) float64 { return x * k }
func Not(b bool) bool            { return !b }
func Greet(name string) string   { return "hello, " + name }

func ReverseBytes(data []byte) []byte {
	out := make([]byte, len(data))
	for i, b := range data {
		out[len(out)-1-i] = b
	}
	return out
}

func KeepMultiplesOf3(xs []int64) []int64 {
	out := []int64{}
	for _, x := range xs {
		if x%3 == 0 {
			out = append(out, x)
		}
	}
	return out
}

func SortWords(words []string) []string {
	out := append([]string{}, words...)
	sort.Strings(out)
	return out
}

func FirstPositive(xs []int64) *int64 {
	for _, x := range xs {
		if x > 0 {
			return &x
		}
	}
	return nil
}

func Swap(pair numberAndName) nameAndNumber { return nameAndNumber{pair.Name, pair.N} }

func NegativeAccounts(rows []Account) []Account {
	out := []Account{}
	for _, row := range rows {
		if row.Balance < 0 {
			out = append(out, row)
		}
	}
	return out
}

func Divide(a, b int64) (int64, error) {
	if b == 0 {
		return 0, fmt.Errorf("cannot divide %d by zero", a)
	}
	if a == math.MinInt64 && b == -1 {
		panic(errors.New("attempt to divide with overflow"))
	}
	return a / b, nil
}

func Nothing() {}

// ReadFile tries to read a file, which a task cannot.
func ReadFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}

// Chatty prints its message (standard output goes to the task's log) and
// logs a warning through the SDK.
func Chatty(message string) uint64 {
	fmt.Println("chatty says", message)
	weft.Log(weft.LevelWarn, "and warns too")
	return uint64(len(message))
}

// Exit ends the task with os.Exit, after a line on standard error.
func Exit(code int32) {
	fmt.Fprintln(os.Stderr, "about to exit")
	os.Exit(int(code))
}

//go:wasmexport weft_task.inc
func incTask(p, n uint32) uint32 { return weft.Call("inc", p, n, Inc) }

//go:wasmexport weft_task.add
func addTask(p, n uint32) uint32 { return weft.Call("add", p, n, Add) }

//go:wasmexport weft_task.scale
func scaleTask(p, n uint32) uint32 { return weft.Call("scale", p, n, Scale) }

//go:wasmexport weft_task.not
func notTask(p, n uint32) uint32 { return weft.Call("not", p, n, Not) }

//go:wasmexport weft_task.greet
func greetTask(p, n uint32) uint32 { return weft.Call("greet", p, n, Greet) }

//go:wasmexport weft_task.reverse_bytes
func reverseBytesTask(p, n uint32) uint32 { return weft.Call("reverse_bytes", p, n, ReverseBytes) }

//go:wasmexport weft_task.keep_multiples_of_3
func keepMultiplesOf3Task(p, n uint32) uint32 {
	return weft.Call("keep_multiples_of_3", p, n, KeepMultiplesOf3)
}

//go:wasmexport weft_task.sort_words
func sortWordsTask(p, n uint32) uint32 { return weft.Call("sort_words", p, n, SortWords) }

//go:wasmexport weft_task.first_positive
func firstPositiveTask(p, n uint32) uint32 { return weft.Call("first_positive", p, n, FirstPositive) }

//go:wasmexport weft_task.swap
func swapTask(p, n uint32) uint32 { return weft.Call("swap", p, n, Swap) }

//go:wasmexport weft_task.negative_accounts
func negativeAccountsTask(p, n uint32) uint32 {
	return weft.Call("negative_accounts", p, n, NegativeAccounts)
}

//go:wasmexport weft_task.divide
func divideTask(p, n uint32) uint32 { return weft.Call("divide", p, n, Divide) }

//go:wasmexport weft_task.nothing
func nothingTask(p, n uint32) uint32 { return weft.Call("nothing", p, n, Nothing) }

//go:wasmexport weft_task.read_file
func readFileTask(p, n uint32) uint32 { return weft.Call("read_file", p, n, ReadFile) }

//go:wasmexport weft_task.chatty
func chattyTask(p, n uint32) uint32 { return weft.Call("chatty", p, n, Chatty) }

//go:wasmexport weft_task.exit
func exitTask(p, n uint32) uint32 { return weft.Call("exit", p, n, Exit) }

func main() {}
