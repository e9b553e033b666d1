// BuildTarget.swift — what the numerics run on: the CPU features the Swift
// code was compiled to require (Package.swift, CTPIPE_TARGET_CPU; checked by
// CPUSupport before main) and OpenBLAS's kernel family. Run records and
// benchmark reports carry both.

import COpenBLAS
import CPUSupport

public enum BuildTarget {
    /// The CPU features this build requires, e.g. "avx2 fma bmi bmi2 popcnt"; "" for a baseline build.
    public static var requiredCPUFeatures: String { String(cString: ct_cpu_required_features()) }

    /// The first required feature this CPU lacks (nil: it has them all, or nothing is required). A
    /// process that got this far has them: CPUSupport stops it before main otherwise.
    public static var missingCPUFeature: String? { ct_cpu_missing_feature().map { String(cString: $0) } }

    /// The kernel family OpenBLAS runs (its own choice from the CPU, or OPENBLAS_CORETYPE's), e.g. "Haswell".
    public static var blasKernels: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
