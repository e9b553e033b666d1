// ReinInitialisationTests.swift — the adapter tokens start as Rein's: full tokens as `Reins`,
// both low-rank factors as `LoRAReins` (uniform ±√(6 / (3·16² + √(C·r))), lora_dim r = 16 in the
// released configs). The bounds come from a replay of the released create_model
// (scripts/make_rein_init_fixtures.py); the initialised tensors must lie inside them and fill them
// like a uniform draw (extremes, mean, variance b²/3).

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing

@Suite struct ReinInitialisationTests {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        let name: String
        let embed_dims: Int, num_layers: Int, token_length: Int, lora_dim: Int, patch_size: Int
        let full_bound: Double, lora_bound: Double
        var description: String { "\(name) (C \(embed_dims), r \(lora_dim))" }
    }
    struct File: Decodable { let cases: [Case] }

    static let cases: [Case] = (try? fixtures.decode(File.self, from: "rein_init/bounds.json").cases) ?? []

    @Test func theFixtureHasThePaperSize() {
        #expect(Self.cases.contains { $0.embed_dims == 1024 && $0.num_layers == 24 && $0.token_length == 100 && $0.lora_dim == 16 })
        #expect(Self.cases.allSatisfy { $0.patch_size == AdapterConfig.tokenInitPatch })
    }

    @Test(arguments: cases)
    func boundsAreRein(_ c: Case) {
        let full = AdapterConfig.tokenInitBound(embedDim: c.embed_dims, rank: 0)
        let lora = AdapterConfig.tokenInitBound(embedDim: c.embed_dims, rank: c.lora_dim)
        #expect(abs(Double(full) - c.full_bound) <= 1e-7 * c.full_bound, "Reins bound \(full) vs \(c.full_bound)")
        #expect(abs(Double(lora) - c.lora_bound) <= 1e-7 * c.lora_bound, "LoRAReins bound \(lora) vs \(c.lora_bound)")
    }

    /// Values drawn uniformly from ±bound: none outside (the bound rounded to Float, as drawn), the extremes
    /// near it on both sides, mean near 0 and variance near bound²/3 (within four standard errors of the
    /// estimates for this many values).
    static func expectUniform(_ values: [Float], bound exact: Double, _ what: String) {
        let n = Double(values.count), bound = Double(Float(exact))
        let top = Double(values.max()!), bottom = Double(values.min()!)
        #expect(top <= bound && bottom >= -bound, "\(what): range [\(bottom), \(top)] outside ±\(bound)")
        #expect(top >= 0.98 * bound && bottom <= -0.98 * bound, "\(what): range [\(bottom), \(top)] does not fill ±\(bound)")
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let expected = bound * bound / 3
        #expect(abs(mean) <= 4 * (expected / n).squareRoot(), "\(what): mean \(mean)")
        #expect(abs(variance / expected - 1) <= 4 * (0.8 / n).squareRoot(), "\(what): variance \(variance), uniform \(expected)")
    }

    @Test(arguments: cases)
    func lowRankFactorsAreDrawnAsLoRAReins(_ c: Case) throws {
        var rng = SplitMix64(seed: UInt64(c.embed_dims + c.lora_dim))
        for kind in [AdapterKind.causalTune, .rein] {
            let config = AdapterConfig(kind: kind, tokens: c.token_length, rank: c.lora_dim)
            let adapter = try CausalTuneAdapter.initialised(config: config, layers: c.num_layers, embedDim: c.embed_dims, using: &rng)
            #expect(adapter.tokens == nil)
            let a = try #require(adapter.tokensA), b = try #require(adapter.tokensB)
            #expect(a.shape == [c.num_layers, c.token_length, c.lora_dim] && b.shape == [c.num_layers, c.lora_dim, c.embed_dims])
            Self.expectUniform(Array(a.values), bound: c.lora_bound, "\(c) \(kind.rawValue) learnable_tokens_a")
            Self.expectUniform(Array(b.values), bound: c.lora_bound, "\(c) \(kind.rawValue) learnable_tokens_b")
        }
    }

    @Test(arguments: cases)
    func fullTokensAreDrawnAsReins(_ c: Case) throws {
        var rng = SplitMix64(seed: UInt64(c.embed_dims))
        let config = AdapterConfig(kind: .causalTune, tokens: c.token_length, rank: 0)
        let adapter = try CausalTuneAdapter.initialised(config: config, layers: c.num_layers, embedDim: c.embed_dims, using: &rng)
        let tokens = try #require(adapter.tokens)
        #expect(adapter.tokensA == nil && tokens.shape == [c.num_layers, c.token_length, c.embed_dims])
        Self.expectUniform(Array(tokens.values), bound: c.full_bound, "\(c) learnable_tokens")
    }
}
