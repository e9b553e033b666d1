// TransformGoldenTests.swift — the Causal-Tune adapter's frequency transforms
// (dct, fft, haar) against NumPy, PyWavelets and PyTorch autograd, and how the
// transform choice travels in checkpoints and is checked against the grid.
//
// Fixtures (scripts/make_transform_fixtures.py, Tests/ModelTests/Fixtures/transforms):
// numpy.fft.fft2 / ifft2(norm="ortho") and pywt.wavedec2 / waverec2("haar",
// mode="periodization") in the coeffs_to_array layout on square and non-square
// grids; one whole adapter layer per (transform, filter) in PyTorch, its output
// and the autograd gradients of <g, f'> with respect to the input and every
// parameter.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite(.serialized) struct TransformGoldenTests {
    struct TransformCase: Decodable { let transform: String, name: String, height: Int, width: Int, channels: Int, levels: Int? }
    struct LayerCase: Decodable {
        let name: String, transform: String, filter: String, dl: Double, dh: Double, height: Int, width: Int
        let rank: Int, layers: Int, tokens: Int, channels: Int, layer: Int
    }
    struct Cases: Decodable { let transforms: [TransformCase], layers: [LayerCase] }

    static func cases() throws -> Cases { try fixtures.decode(Cases.self, from: "transforms/cases.json") }

    static func floats(_ name: String) throws -> [Float] { try fixtures.floats("transforms/" + name) }

    @Test func fftMatchesNumPy() throws {
        let all = try Self.cases().transforms.filter { $0.transform == "fft" }
        #expect(all.count == 7)
        for c in all {
            for threads in [1, 2, 3] {
                let dft = DFT2(height: c.height, width: c.width, channels: c.channels, threads: threads)
                var scratch = [Float](repeating: .nan, count: dft.scratchCount)
                let x = try Self.floats(c.name + "_x.npy"), y = try Self.floats(c.name + "_y.npy")
                var spectrum = [Float](repeating: .nan, count: 2 * x.count), back = [Float](repeating: .nan, count: x.count)
                x.withUnsafeBufferPointer { x in
                    spectrum.withUnsafeMutableBufferPointer { s in
                        scratch.withUnsafeMutableBufferPointer { dft.forward(x.baseAddress!, into: s.baseAddress!, scratch: $0.baseAddress!) }
                    }
                }
                y.withUnsafeBufferPointer { y in
                    back.withUnsafeMutableBufferPointer { b in
                        scratch.withUnsafeMutableBufferPointer { dft.inverse(y.baseAddress!, into: b.baseAddress!, scratch: $0.baseAddress!) }
                    }
                }
                expectClose(spectrum, try Self.floats(c.name + "_forward.npy"), tolerance: 2e-5, "fft2 \(c.name), \(threads) threads")
                expectClose(back, try Self.floats(c.name + "_inverse.npy"), tolerance: 2e-5, "real(ifft2) \(c.name), \(threads) threads")
            }
        }
    }

    @Test func haarMatchesPyWavelets() throws {
        let all = try Self.cases().transforms.filter { $0.transform == "haar" }
        #expect(all.count == 6)
        #expect(all.contains { $0.height != $0.width })
        for c in all {
            for threads in [1, 2] {
                let haar = Haar2(height: c.height, width: c.width, channels: c.channels, threads: threads)
                #expect(haar.levels == c.levels, "\(c.name): \(haar.levels) levels, pywt \(String(describing: c.levels))")
                let x = try Self.floats(c.name + "_x.npy"), y = try Self.floats(c.name + "_y.npy")
                var coefficients = [Float](repeating: .nan, count: x.count), back = [Float](repeating: .nan, count: y.count)
                x.withUnsafeBufferPointer { x in coefficients.withUnsafeMutableBufferPointer { haar.forward(x.baseAddress!, into: $0.baseAddress!) } }
                y.withUnsafeBufferPointer { y in back.withUnsafeMutableBufferPointer { haar.inverse(y.baseAddress!, into: $0.baseAddress!) } }
                expectClose(coefficients, try Self.floats(c.name + "_forward.npy"), tolerance: 2e-5, "wavedec2 \(c.name), \(threads) threads")
                expectClose(back, try Self.floats(c.name + "_inverse.npy"), tolerance: 2e-5, "waverec2 \(c.name), \(threads) threads")
            }
        }
    }

    @Test func haarGridsMustBePowersOfTwo() {
        #expect(Haar2.supports(height: 32, width: 64) && Haar2.supports(height: 1, width: 8))
        #expect(!Haar2.supports(height: 37, width: 37) && !Haar2.supports(height: 32, width: 24) && !Haar2.supports(height: 0, width: 4))
        let haar = AdapterConfig(transform: .haar)
        let problem = haar.gridProblem(height: 37, width: 32)
        #expect(problem?.contains("37 x 32") == true && problem?.contains("powers of two") == true)
        #expect(haar.gridProblem(height: 32, width: 16) == nil)
        #expect(AdapterConfig(transform: .fft).gridProblem(height: 37, width: 5) == nil)
        #expect(AdapterConfig(transform: .dct).gridProblem(height: 37, width: 5) == nil)
    }

    /// The adapter of a layer case, its parameters read from the fixture into one storage.
    static func adapter(_ c: LayerCase, _ file: SafeTensorsFile) throws -> CausalTuneAdapter {
        let config = AdapterConfig(kind: .causalTune, transform: try #require(FrequencyTransform(rawValue: c.transform)),
                                   filter: try #require(FrequencyFilter(rawValue: c.filter)), dl: c.dl, dh: c.dh,
                                   tokens: c.tokens, rank: c.rank)
        var adapter = try CausalTuneAdapter(config: config, layers: c.layers, embedDim: c.channels)
        var reader = ParameterReader(tensors: file.tensors, path: c.name)
        try adapter.readParameters(ParameterScope(prefix: "", trainable: true), from: &reader)
        return adapter
    }

    @Test func adapterLayersMatchAutograd() throws {
        let all = try Self.cases().layers
        #expect(all.count == 12)
        for transform in FrequencyTransform.allCases {
            for filter in [FrequencyFilter.bandpass, .lowcut, .highcut, .none] {
                #expect(all.contains { $0.transform == transform.rawValue && $0.filter == filter.rawValue }, "no case for \(transform) \(filter)")
            }
        }
        var worst: Float = 0
        for c in all {
            let file = try SafeTensors.read(fixtures.path("transforms/\(c.name).safetensors"))
            func tensor(_ name: String) throws -> [Float] { try #require(file.tensors[name], "\(c.name): no \(name)").storage }
            let adapter = try Self.adapter(c, file)
            let prepared = adapter.prepare()
            let n = c.height * c.width
            let arena = adapter.makeActivations(gridHeight: c.height, gridWidth: c.width, retainForBackward: true, threads: 2)
            #expect(arena.frequencyRows == (c.transform == "fft" ? 2 * n : n))

            var f = try tensor("input")
            f.withUnsafeMutableBufferPointer { adapter.forward(layer: c.layer, patches: $0.baseAddress!, prepared: prepared, arena) }
            expectClose(f, try tensor("output"), tolerance: 1e-4, "\(c.name) output")
            // An inference arena: the inverse transform adds s · Tr⁻¹(Δ) into the stream itself.
            let inference = adapter.makeActivations(gridHeight: c.height, gridWidth: c.width, threads: 2)
            let inferenceOnly = inference.inferenceOnly
            #expect(inferenceOnly)
            var fi = try tensor("input")
            fi.withUnsafeMutableBufferPointer { adapter.forward(layer: c.layer, patches: $0.baseAddress!, prepared: prepared, inference) }
            expectClose(fi, try tensor("output"), tolerance: 1e-4, "\(c.name) output, inference arena")

            // Backward from g = dL/df' with L = <g, f'>: g becomes dL/df, parameter gradients accumulate.
            let storage = try #require(adapter.scaleParameter.buffer)
            var grads = [Float](repeating: 0, count: storage.count)
            var g = try tensor("upstream")
            var scratch = [Float](repeating: .nan, count: CausalTuneAdapter.backwardScratchCount(config: adapter.config, patches: n, embedDim: c.channels))
            grads.withUnsafeMutableBufferPointer { grads in
                g.withUnsafeMutableBufferPointer { g in
                    scratch.withUnsafeMutableBufferPointer { scratch in
                        adapter.backward(layer: c.layer, gradient: g.baseAddress!, prepared: prepared, arena, scratch: scratch.baseAddress!,
                                         gradients: ParameterGradients(values: storage, buffer: grads.baseAddress!))
                    }
                }
            }
            let input = Closeness(g, try tensor("grad.input"))
            worst = max(worst, input.worstError)
            #expect(input.worstError < 2e-4, "\(c.name) input gradient: worst \(input.worstError) at \(input.worstIndex): \(input.actual) vs \(input.expected)")
            var offset = 0
            for info in adapter.parameterInfos(ParameterScope(prefix: "", trainable: true)) {
                let mine = Array(grads[offset ..< offset + info.count])
                offset += info.count
                let expected = try tensor("grad." + info.name)
                let close = Closeness(mine, expected)
                worst = max(worst, close.worstError)
                #expect(close.worstError < 2e-4, "\(c.name) gradient of \(info.name): worst \(close.worstError) at \(close.worstIndex): \(close.actual) vs \(close.expected)")
            }
            #expect(offset == storage.count)
        }
        print("transform adapter layers: \(all.count) cases, worst relative error \(worst)")
    }

    // MARK: - configuration and checkpoints

    @Test func configurationRecordsTheTransform() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for transform in FrequencyTransform.allCases {
            let config = AdapterConfig(kind: .causalTune, transform: transform, filter: .lowcut, tokens: 7, rank: 2)
            let json = String(decoding: try encoder.encode(config), as: UTF8.self)
            #expect(json.contains("\"transform\":\"\(transform.rawValue)\""))
            #expect(try JSONDecoder().decode(AdapterConfig.self, from: Data(json.utf8)) == config)
        }
        // Written before the transform was a choice: the DCT.
        let old = #"{"kind": "causal-tune", "filter": "bandpass", "dl": 0.2, "dh": 0.7, "tokens": 100, "rank": 0}"#
        #expect(try JSONDecoder().decode(AdapterConfig.self, from: Data(old.utf8)).transform == .dct)
        // Other kinds record none.
        #expect(!String(decoding: try encoder.encode(AdapterConfig(kind: .rein)), as: UTF8.self).contains("transform"))
        #expect(AdapterConfig(kind: .rein, transform: .fft).problems().contains { $0.contains("fft") && $0.contains("causal-tune") })
        #expect(AdapterConfig(kind: .causalTune, transform: .haar).problems().isEmpty)
        do {
            _ = try JSONDecoder().decode(AdapterConfig.self, from: Data(old.replacingOccurrences(of: "\"rank\"", with: "\"transform\": \"wavelet\", \"rank\"").utf8))
            Issue.record("an unknown transform was accepted")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription.contains("\"wavelet\"") && context.debugDescription.contains("dct, fft, haar"))
        }
    }

    static func tinyBackbone() throws -> DINOv2 { try DINOv2Weights.load(fixtures.path("adapter/tiny_backbone.safetensors")).model }

    static func temporary(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-transform-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    static func logits(_ model: SegmentationModel, side: Int) throws -> [Float] {
        var rng = SplitMix64(seed: 11)
        let image = (0 ..< 3 * side * side).map { _ in Float.random(in: -2 ... 2, using: &rng) }
        let arena = try model.makeActivations(height: side, width: side, threads: 2)
        try image.withUnsafeBufferPointer { try model.forward($0, arena) }
        return Array(arena.logits)
    }

    @Test(arguments: FrequencyTransform.allCases)
    func checkpointRoundTripRecordsTheTransform(_ transform: FrequencyTransform) throws {
        let backbone = try Self.tinyBackbone()   // patch 7: 28 px -> a 4 x 4 grid
        let model = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(transform: transform, tokens: 6), seed: 5)
        let path = Self.temporary("model.safetensors")
        try SegmentationCheckpoint.save(model, to: path, embedBackbone: true)
        let parsed = try SafeTensors.read(path)
        let json = try #require(parsed.metadata[DINOv2Weights.configKey])
        #expect(json.contains("\"transform\":\"\(transform.rawValue)\""), "\(json)")
        let back = try SegmentationCheckpoint.load(path)
        #expect(back.config.adapter.transform == transform)
        #expect(back.config.adapter == model.config.adapter)
        #expect(try Self.logits(back, side: 28) == Self.logits(model, side: 28))
    }

    @Test func transformsChangeTheModel() throws {
        // The same parameters through each transform give different outputs (the choice is not ignored).
        let backbone = try Self.tinyBackbone()
        var outputs: [[Float]] = []
        for transform in FrequencyTransform.allCases {
            var model = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(transform: transform, tokens: 6), seed: 5)
            try #require(model.adapter).scaleParameter.values[0] = 0.5   // the model's own storage
            model.parametersChanged()
            outputs.append(try Self.logits(model, side: 28))
        }
        #expect(outputs[0] != outputs[1] && outputs[0] != outputs[2] && outputs[1] != outputs[2])
    }

    @Test func checkpointsWithABadTransformAreRefused() throws {
        let fixture = fixtures.path("adapter/ct_full.safetensors")
        #expect(try SegmentationCheckpoint.load(fixture).config.adapter.transform == .dct)   // no "transform": dct
        func loadError(_ edit: (inout [String: Any]) -> Void) throws -> WeightError? {
            var file = try SafeTensors.read(fixture)
            var config = try #require(try JSONSerialization.jsonObject(with: Data(file.metadata[DINOv2Weights.configKey]!.utf8)) as? [String: Any])
            var adapter = try #require(config["adapter"] as? [String: Any])
            edit(&adapter)
            config["adapter"] = adapter
            file.metadata[DINOv2Weights.configKey] = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
            let path = Self.temporary("edited.safetensors")
            try SafeTensors.write(file, to: path)
            do { _ = try SegmentationCheckpoint.load(path); return nil } catch { return error }
        }
        let unknown = try loadError { $0["transform"] = "wavelet" }
        #expect(unknown?.reason.contains("adapter.transform") == true && unknown?.reason.contains("\"wavelet\" is not one of dct, fft, haar") == true,
                "\(String(describing: unknown))")
        let rein = try loadError { $0["kind"] = "rein"; $0["transform"] = "fft" }
        #expect(rein?.reason.contains("the fft transform belongs to the causal-tune adapter") == true, "\(String(describing: rein))")
        #expect(try loadError { $0["transform"] = "haar" } == nil)
    }

    @Test func haarOnANonPowerOfTwoGridIsRefused() throws {
        let backbone = try Self.tinyBackbone()   // patch 7
        let model = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(transform: .haar, tokens: 6), seed: 5)
        do {
            _ = try model.makeActivations(height: 21, width: 28, threads: 1)
            Issue.record("a 3 x 4 grid was accepted for the haar transform")
        } catch {
            #expect(error.reason.contains("input 21 x 28") && error.reason.contains("3 x 4 patches") && error.reason.contains("powers of two"),
                    "\(error.reason)")
        }
        _ = try model.makeActivations(height: 14, width: 28, threads: 1)   // 2 x 4
        let fft = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(transform: .fft, tokens: 6), seed: 5)
        _ = try fft.makeActivations(height: 21, width: 35, threads: 1)    // any grid
    }
}
