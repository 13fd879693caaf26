"""Loads pfs exports in PyTorch and onnxruntime and compares their logits with pfs's.

    python compare_exports.py CASES.json

CASES.json: a list of {"name", "bundle": export directory, "onnx": file, "input": raw float32 file,
"shape": [N, C, H, W], "logits": raw float32 file of pfs's logits (N, classes)}. Prints one JSON
object: per case the state_dict key check, ONNX checker result and the max |difference| of the
PyTorch module's and the ONNX model's logits from pfs's.
"""
import importlib.util
import json
import sys

import numpy as np
import onnx
import onnxruntime
import torch


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main():
    cases = json.load(open(sys.argv[1]))
    out = []
    for i, case in enumerate(cases):
        sys.path.insert(0, case["bundle"])
        model = load_module(case["bundle"] + "/model.py", f"model_{i}")
        sys.modules["model"] = model
        script = load_module(case["bundle"] + "/train_ddp.py", f"train_{i}")
        sys.path.pop(0)
        net = model.Net()
        state = script.load_safetensors(case["bundle"] + "/weights.safetensors")
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        got = {k: tuple(v.shape) for k, v in state.items()}
        net.load_state_dict(state)
        net.eval()
        x = np.fromfile(case["input"], dtype=np.float32).reshape(case["shape"])
        reference = np.fromfile(case["logits"], dtype=np.float32).reshape(case["shape"][0], -1)
        with torch.no_grad():
            logits = net(torch.from_numpy(x)).numpy()
        proto = onnx.load(case["onnx"])
        onnx.checker.check_model(proto)
        session = onnxruntime.InferenceSession(case["onnx"], providers=["CPUExecutionProvider"])
        onnx_logits = session.run(None, {"input": x})[0]
        out.append({"name": case["name"], "keys_equal": expected == got, "opset": proto.opset_import[0].version,
                    "torch_max_diff": float(np.abs(logits - reference).max()),
                    "onnx_max_diff": float(np.abs(onnx_logits - reference).max()),
                    "batch": case["shape"][0]})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
