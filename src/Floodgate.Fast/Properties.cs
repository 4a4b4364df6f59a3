using System.Runtime.CompilerServices;

// Locals are always assigned before use; skipping the zeroing of the check path's stack frame saves work on
// every request.
[module: SkipLocalsInit]
