// FreedMemory.swift — hands freed heap memory back to the system.
//
// glibc keeps freed chunks in its heap once its allocation threshold has
// grown, so a loader that copies a file's tensors into a model and frees each
// copy as it goes would still hold both in resident memory. Calling
// `release()` every few hundred megabytes freed keeps the peak near one copy.

#if canImport(Glibc)
@_silgen_name("malloc_trim") private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

public enum FreedMemory {
    /// Returns the heap's free pages to the system (glibc's malloc_trim; a no-op elsewhere).
    public static func release() {
        #if canImport(Glibc)
        _ = glibcMallocTrim(0)
        #endif
    }
}
