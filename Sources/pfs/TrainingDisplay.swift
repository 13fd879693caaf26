import Foundation
import PFSTraining

/// Shows a training run: a live progress line on a terminal (loss, accuracy, images/s, ETA of
/// the run) and one printed row per epoch.
final class TrainingDisplay {
    private let bar = ProgressLine()
    private let totalEpochs: Int
    private var printedHeader = false
    private let start = Date()
    private var stepsDone = 0
    private var firstStep: (epoch: Int, step: Int)?

    init(totalEpochs: Int) { self.totalEpochs = totalEpochs }

    func handle(_ event: TrainingEvent) {
        switch event {
        case let .step(epoch, step, steps, loss, _, accuracy, rate):
            if firstStep == nil { firstStep = (epoch, step) }
            stepsDone += 1
            let total = totalEpochs * steps
            let done = (epoch - 1) * steps + step
            let elapsed = Date().timeIntervalSince(start)
            let eta = elapsed / Double(stepsDone) * Double(total - done)
            bar.show(fraction: Double(done) / Double(total),
                     text: "epoch \(epoch)/\(totalEpochs) step \(step)/\(steps)  loss \(String(format: "%.3f", loss))  "
                        + "acc \(percent(accuracy))  \(Int(rate)) img/s  ETA \(clock(eta))")
        case let .epoch(record):
            bar.finish()
            if !printedHeader {
                print("epoch   train loss  train acc   val loss    val acc        lr   img/s     time  data wait")
                printedHeader = true
            }
            let val = record.validationAccuracy.map { percent($0) } ?? "-"
            let valLoss = record.validationLoss.map { String(format: "%.4f", $0) } ?? "-"
            print(pad("\(record.epoch)/\(totalEpochs)", 5) + pad(String(format: "%.4f", record.trainLoss), 13)
                  + pad(percent(record.trainAccuracy), 11) + pad(valLoss, 11) + pad(val, 11)
                  + pad(String(format: "%.5f", record.learningRate), 10) + pad("\(Int(record.imagesPerSecond))", 8)
                  + pad(clock(record.seconds), 9)
                  + pad(record.dataWaitSeconds.map { percent($0 / max(record.seconds, 1e-9)) } ?? "-", 11))
            fflush(stdout)
        }
    }

    func finish() { bar.finish() }
}

/// Right-aligns `text` in `width` columns.
func pad(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}
