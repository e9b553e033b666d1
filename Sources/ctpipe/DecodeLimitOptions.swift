// DecodeLimitOptions.swift — `--max-pixels`, shared by the subcommands that decode
// images: a header declaring more pixels is refused before anything is allocated.

import ArgumentParser
import ImageIO

struct DecodeLimitOptions: ParsableArguments {
    /// The largest value accepted: no PNG or JPEG can declare more (65535 x 65535 < 2^32).
    static let largest = 1 << 32

    @Option(name: .customLong("max-pixels"),
            help: ArgumentHelp("Refuse images whose header declares more than N pixels (width*height), before decoding "
                               + "(default \(DecodeLimits.defaultMaxPixels), 64 MP).", valueName: "N"))
    var maxPixels: Int = DecodeLimits.defaultMaxPixels

    func validate() throws {
        try CLILimits.check(maxPixels, within: 1 ... Self.largest, option: "--max-pixels")
    }

    var limits: DecodeLimits { DecodeLimits(maxPixels: maxPixels) }
}
