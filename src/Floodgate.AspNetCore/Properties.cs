using System.Runtime.CompilerServices;

// Locals are always assigned before use: the request path's stack buffers (the RateLimit value, several policies'
// decisions) need no zeroing.
[module: SkipLocalsInit]
