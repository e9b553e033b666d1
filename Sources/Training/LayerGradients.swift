// LayerGradients.swift — each layer's gradient destinations, resolved from a
// GradientStore and its ParameterLayout: what the model's backward pass adds into.

import Model

extension SegmentationGradients {
    /// The destinations of every trainable tensor of `grads.layout`.
    init(_ grads: GradientStore) {
        let layout = grads.layout
        let head = HeadGradients(
            norms: zip(layout.headNormWeights, layout.headNormBiases).map { LayerNormGradients(weight: grads[$0], bias: grads[$1]) },
            classifier: LinearGradients(weight: grads[layout.classifierWeight], bias: grads[layout.classifierBias]))
        let adapter = layout.scale.map { scale in
            AdapterGradients(tokens: grads.pointer(layout.tokens), tokensA: grads.pointer(layout.tokensA),
                             tokensB: grads.pointer(layout.tokensB), scale: grads[scale],
                             tokenToFeature: LinearGradients(weight: grads[layout.tokenToFeatureWeight!],
                                                             bias: grads[layout.tokenToFeatureBias!]),
                             deltaFeature: LinearGradients(weight: grads[layout.deltaFeatureWeight!],
                                                           bias: grads[layout.deltaFeatureBias!]))
        }
        let blocks = layout.backbone.map { b in b.blocks.map { BlockGradients(grads, $0) } }
        let embedding = layout.backbone.map { b in
            EmbeddingGradients(clsToken: grads[b.clsToken], posEmbed: grads[b.posEmbed], registerTokens: grads.pointer(b.registerTokens),
                               patchEmbed: LinearGradients(weight: grads[b.patchWeight], bias: grads[b.patchBias]))
        }
        self.init(head: head, adapter: adapter, blocks: blocks, embedding: embedding)
    }
}

extension BlockGradients {
    /// The destinations of one block's tensors.
    init(_ grads: GradientStore, _ ix: BlockParameterIndices) {
        self.init(norm1: LayerNormGradients(weight: grads[ix.norm1Weight], bias: grads[ix.norm1Bias]),
                  qkv: LinearGradients(weight: grads[ix.qkvWeight], bias: grads[ix.qkvBias]),
                  proj: LinearGradients(weight: grads[ix.projWeight], bias: grads[ix.projBias]),
                  ls1: grads[ix.ls1],
                  norm2: LayerNormGradients(weight: grads[ix.norm2Weight], bias: grads[ix.norm2Bias]),
                  ffn: FeedForwardGradients(fc1: LinearGradients(weight: grads[ix.fc1Weight], bias: grads[ix.fc1Bias]),
                                            fc2: LinearGradients(weight: grads[ix.fc2Weight], bias: grads[ix.fc2Bias])),
                  ls2: grads[ix.ls2])
    }
}
