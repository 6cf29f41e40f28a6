/// Ready-made networks for 1x28x28 images and 10 classes (MNIST, Fashion-MNIST), built
/// like `torchvision.models.resnet18()`: `Models.cnn()`. They are the workloads the
/// library is trained, tested and benchmarked on, with the recipe each is trained with.
public enum Models {
    /// A multilayer perceptron 784-256-128-10 with ReLU (W1 in the project's workloads;
    /// trained with Adam, lr 1e-3, batch 64).
    public static func mlp() -> Sequential {
        Sequential {
            Flatten()
            Dense(inputSize: 784, outputSize: 256)
            ReLU()
            Dense(inputSize: 256, outputSize: 128)
            ReLU()
            Dense(inputSize: 128, outputSize: 10)
        }
    }

    /// A small CNN: two stages of conv3x3 (1->32->64, padding 1), batch norm, 2x2 max
    /// pooling and ReLU, then dense 3136->128, ReLU, dropout 0.25, dense 128->10 (W2 in the
    /// project's workloads; trained with Adam, lr 1e-3, batch 64).
    ///
    /// Each stage applies its ReLU after the max pooling, as PyTorch's MNIST example does
    /// (`relu(max_pool2d(x, 2))`): ReLU and max commute (max(relu(a), relu(b)) =
    /// relu(max(a, b))), and so do their gradients (each window's gradient goes to its
    /// maximum when that is positive, nowhere otherwise), so the function and its gradients
    /// are those of conv-BN-ReLU-maxpool with the ReLU on a quarter of the elements
    /// (docs/performance.md has what that saves).
    public static func cnn(dropoutSeed: UInt64 = 0xD209) -> Sequential {
        Sequential {
            Conv2D(inChannels: 1, outChannels: 32, kernelSize: 3, padding: 1)
            BatchNorm2D(32)
            MaxPool2D(2)
            ReLU()
            Conv2D(inChannels: 32, outChannels: 64, kernelSize: 3, padding: 1)
            BatchNorm2D(64)
            MaxPool2D(2)
            ReLU()
            Flatten()
            Dense(inputSize: 64 * 7 * 7, outputSize: 128)
            ReLU()
            Dropout(0.25, seed: dropoutSeed)
            Dense(inputSize: 128, outputSize: 10)
        }
    }

    /// A small ResNet: a conv3x3 1->16 stem with batch norm and ReLU at 28x28, a basic block
    /// at 16 channels, strided blocks to 32 (14x14) and 64 (7x7) channels with 1x1
    /// projection shortcuts, global average pooling, dense 64->10 (W3 in the project's
    /// workloads; trained with SGD + Nesterov 0.9, weight decay 5e-4, a cosine or step
    /// schedule, random crop and flip).
    public static func resnet() -> Sequential {
        Sequential {
            Conv2D(inChannels: 1, outChannels: 16, kernelSize: 3, padding: 1, useBias: false)
            BatchNorm2D(16)
            ReLU()
            Residual.basicBlock(inChannels: 16, outChannels: 16)
            Residual.basicBlock(inChannels: 16, outChannels: 32, stride: 2)
            Residual.basicBlock(inChannels: 32, outChannels: 64, stride: 2)
            GlobalAvgPool2D()
            Dense(inputSize: 64, outputSize: 10)
        }
    }

    /// Training FLOPs per image of each model (forward + backward, about 3x forward), for
    /// effective GFLOP/s figures.
    public static let trainingFLOPsPerImage: [String: Double] = ["mlp": 1.0e6, "cnn": 25e6, "resnet": 56e6]
}
