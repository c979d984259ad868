"""Convert MediaPipe's selfie-segmentation TFLite graph to ONNX (NCHW, dynamic batch).

A converter for exactly the op types this graph uses (tflite2onnx lacks HARD_SWISH and
tf2onnx keeps MediaPipe's custom op). Every tensor is kept NCHW, so the graph needs no
Transpose node: weights are permuted once, at conversion.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
_BUILTIN = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_NP_TYPES = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
             tflite.TensorType.INT32: np.int32}
# TFLite fused activation codes -> ONNX op.
_ACTIVATIONS = {0: None, 1: "Relu"}


class UnsupportedGraph(ValueError):
    """The TFLite graph uses something this converter does not handle."""


def same_pads(in_size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding of one axis; the odd pixel goes at the end.

    Args:
        in_size: the input's size along the axis.
        kernel: the kernel's size along it.
        stride: the stride along it.

    Returns:
        (begin, end) padding.
    """
    out = -(-in_size // stride)
    total = max((out - 1) * stride + kernel - in_size, 0)
    return total // 2, total - total // 2


class _Converter:
    def __init__(self, buf: bytes):
        self.model = tflite.Model.GetRootAsModel(buf, 0)
        if self.model.SubgraphsLength() != 1:
            raise UnsupportedGraph("expected one subgraph")
        self.g = self.model.Subgraphs(0)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.shapes: dict[int, list[int]] = {}   # NHWC shapes as TFLite declares them

    # -- tensors -----------------------------------------------------------------------
    def name(self, i: int) -> str:
        """The ONNX name of TFLite tensor ``i``.

        Args:
            i: the tensor's index in the subgraph.

        Returns:
            ``t<i>``.
        """
        return f"t{i}"

    def nhwc(self, i: int) -> list[int]:
        """The shape TFLite declares for tensor ``i``.

        Args:
            i: the tensor's index.

        Returns:
            Its dims (NHWC for activations).
        """
        return self.g.Tensors(i).ShapeAsNumpy().tolist()

    def const(self, i: int) -> np.ndarray | None:
        """A tensor's constant value (folded DEQUANTIZE outputs included).

        Args:
            i: the tensor's index.

        Returns:
            Its value in the TFLite layout and dtype, or None when it has no data.
        """
        if self.name(i) in self.inits:
            return self.inits[self.name(i)]
        t = self.g.Tensors(i)
        data = self.model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data.size == 0:
            return None
        return np.frombuffer(data.tobytes(), dtype=_NP_TYPES[t.Type()]).reshape(t.ShapeAsNumpy())

    def weight(self, i: int, perm: tuple[int, ...], suffix: str) -> str:
        """Add a constant tensor as a float32 initializer, its axes permuted.

        Args:
            i: the tensor's index.
            perm: the permutation (numpy.transpose's axes).
            suffix: appended to its name, saying the layout.

        Returns:
            The initializer's name.

        Raises:
            UnsupportedGraph: the tensor is not constant.
        """
        w = self.const(i)
        if w is None:
            raise UnsupportedGraph(f"tensor {i} must be constant")
        name = f"{self.name(i)}_{suffix}"
        self.inits[name] = np.ascontiguousarray(w.astype(np.float32).transpose(perm))
        return name

    def constant(self, name: str, value: np.ndarray) -> str:
        """Add an initializer.

        Args:
            name: its name.
            value: its value.

        Returns:
            ``name``.
        """
        self.inits[name] = value
        return name

    # -- ops ---------------------------------------------------------------------------
    def emit(self, op: str, inputs: list[str], out: str, activation: int = 0, **attrs) -> None:
        """Add a node, followed by its fused activation.

        Args:
            op: the ONNX op type.
            inputs: its input names.
            out: the output name (the activation's, when there is one).
            activation: TFLite's fused activation code (0 none, 1 Relu).
            **attrs: the node's attributes.

        Raises:
            UnsupportedGraph: another activation code.
        """
        act = _ACTIVATIONS.get(activation, "unsupported")
        if act == "unsupported":
            raise UnsupportedGraph(f"fused activation code {activation}")
        mid = out if act is None else out + "_pre"
        self.nodes.append(helper.make_node(op, inputs, [mid], name=mid, **attrs))
        if act is not None:
            self.nodes.append(helper.make_node(act, [mid], [out], name=out))

    def conv(self, op, depthwise: bool) -> None:
        """CONV_2D or DEPTHWISE_CONV_2D -> Conv (weights OIHW; depthwise as group=C).

        Args:
            op: the TFLite operator.
            depthwise: whether it is DEPTHWISE_CONV_2D.

        Raises:
            UnsupportedGraph: a dilated convolution or a depth multiplier other than 1.
        """
        opts_t = tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions
        o = opts_t()
        tab = op.BuiltinOptions()
        o.Init(tab.Bytes, tab.Pos)
        x, w, b = (op.Inputs(k) for k in range(3))
        kh, kw = self.nhwc(w)[1:3]
        ih, iw = self.nhwc(x)[1:3]
        if o.DilationHFactor() != 1 or o.DilationWFactor() != 1:
            raise UnsupportedGraph("dilated convolution")
        if o.Padding() == tflite.Padding.SAME:
            (pt, pb), (pl, pr) = same_pads(ih, kh, o.StrideH()), same_pads(iw, kw, o.StrideW())
        else:
            pt = pb = pl = pr = 0
        if depthwise:
            c = self.nhwc(w)[3]
            if o.DepthMultiplier() != 1:
                raise UnsupportedGraph("depth multiplier != 1")
            wname = self.weight(w, (3, 0, 1, 2), "dw")       # [1,H,W,C] -> [C,1,H,W]
            group = c
        else:
            wname = self.weight(w, (0, 3, 1, 2), "oihw")     # [O,H,W,I] -> [O,I,H,W]
            group = 1
        bname = self.weight(b, (0,), "b")
        self.emit("Conv", [self.name(x), wname, bname], self.name(op.Outputs(0)),
                  o.FusedActivationFunction(), kernel_shape=[kh, kw],
                  strides=[o.StrideH(), o.StrideW()], pads=[pt, pl, pb, pr], group=group)

    def transpose_conv_bias(self, op) -> None:
        """MediaPipe's custom Convolution2DTransposeBias -> ConvTranspose.

        Args:
            op: the TFLite operator.

        Raises:
            UnsupportedGraph: a padding code other than SAME (1) or VALID (2).
        """
        # MediaPipe's custom op: options are a raw C struct (padding, stride_w, stride_h)
        # with padding 1 = SAME, 2 = VALID (not the builtin enum).
        raw = op.CustomOptionsAsNumpy().tobytes()
        padding, stride_w, stride_h = struct.unpack("<3i", raw[:12])
        x, w, b = (op.Inputs(k) for k in range(3))
        kh, kw = self.nhwc(w)[1:3]
        ih, iw = self.nhwc(x)[1:3]
        oh, ow = self.nhwc(op.Outputs(0))[1:3]
        if padding == 1:
            th, tw = (ih - 1) * stride_h + kh - oh, (iw - 1) * stride_w + kw - ow
            pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
        elif padding == 2:
            pads = [0, 0, 0, 0]
        else:
            raise UnsupportedGraph(f"Convolution2DTransposeBias padding code {padding}")
        wname = self.weight(w, (3, 0, 1, 2), "iohw")         # [O,H,W,I] -> [I,O,H,W]
        bname = self.weight(b, (0,), "b")
        self.emit("ConvTranspose", [self.name(x), wname, bname], self.name(op.Outputs(0)),
                  kernel_shape=[kh, kw], strides=[stride_h, stride_w], pads=pads)

    def binary(self, op, onnx_op: str, opts_t) -> None:
        """An elementwise ADD or MUL with its fused activation.

        Args:
            op: the TFLite operator.
            onnx_op: the ONNX op type.
            opts_t: the TFLite options class (AddOptions, MulOptions).

        Raises:
            UnsupportedGraph: an unsupported fused activation.
        """
        o = opts_t()
        tab = op.BuiltinOptions()
        o.Init(tab.Bytes, tab.Pos)
        self.emit(onnx_op, [self.name(op.Inputs(0)), self.name(op.Inputs(1))],
                  self.name(op.Outputs(0)), o.FusedActivationFunction())

    def avg_pool(self, op) -> None:
        """AVERAGE_POOL_2D over the whole plane -> GlobalAveragePool.

        Args:
            op: the TFLite operator.

        Raises:
            UnsupportedGraph: a pool that is not global.
        """
        o = tflite.Pool2DOptions()
        tab = op.BuiltinOptions()
        o.Init(tab.Bytes, tab.Pos)
        ih, iw = self.nhwc(op.Inputs(0))[1:3]
        if (o.FilterHeight(), o.FilterWidth()) != (ih, iw) or self.nhwc(op.Outputs(0))[1:3] != [1, 1]:
            raise UnsupportedGraph("AVERAGE_POOL_2D that is not a global pool")
        self.emit("GlobalAveragePool", [self.name(op.Inputs(0))], self.name(op.Outputs(0)),
                  o.FusedActivationFunction())

    def resize_bilinear(self, op) -> None:
        """RESIZE_BILINEAR -> Resize (linear, scales), coordinates as TFLite's flags say.

        Args:
            op: the TFLite operator.
        """
        o = tflite.ResizeBilinearOptions()
        tab = op.BuiltinOptions()
        o.Init(tab.Bytes, tab.Pos)
        ih, iw = self.nhwc(op.Inputs(0))[1:3]
        oh, ow = (int(v) for v in self.const(op.Inputs(1)))
        mode = ("half_pixel" if o.HalfPixelCenters() else
                "align_corners" if o.AlignCorners() else "asymmetric")
        out = self.name(op.Outputs(0))
        scales = self.constant(out + "_scales", np.array([1, 1, oh / ih, ow / iw], np.float32))
        self.emit("Resize", [self.name(op.Inputs(0)), "", scales], out, mode="linear",
                  coordinate_transformation_mode=mode)

    def convert(self) -> onnx.ModelProto:
        """Convert every operator of the graph, in order.

        Returns:
            The checked ONNX model (``finish``).

        Raises:
            UnsupportedGraph: an operator or an option this converter does not handle.
        """
        handlers = {
            "CONV_2D": lambda op: self.conv(op, depthwise=False),
            "DEPTHWISE_CONV_2D": lambda op: self.conv(op, depthwise=True),
            "RELU": lambda op: self.emit("Relu", [self.name(op.Inputs(0))], self.name(op.Outputs(0))),
            "HARD_SWISH": lambda op: self.emit("HardSwish", [self.name(op.Inputs(0))], self.name(op.Outputs(0))),
            "LOGISTIC": lambda op: self.emit("Sigmoid", [self.name(op.Inputs(0))], self.name(op.Outputs(0))),
            "ADD": lambda op: self.binary(op, "Add", tflite.AddOptions),
            "MUL": lambda op: self.binary(op, "Mul", tflite.MulOptions),
            "AVERAGE_POOL_2D": self.avg_pool,
            "RESIZE_BILINEAR": self.resize_bilinear,
            "CUSTOM:Convolution2DTransposeBias": self.transpose_conv_bias,
        }
        for k in range(self.g.OperatorsLength()):
            op = self.g.Operators(k)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            kind = (f"CUSTOM:{code.CustomCode().decode()}" if builtin == tflite.BuiltinOperator.CUSTOM
                    else _BUILTIN.get(builtin, str(builtin)))
            if kind == "DEQUANTIZE":
                # fp16 weights: fold into float32 constants.
                self.inits[self.name(op.Outputs(0))] = self.const(op.Inputs(0)).astype(np.float32)
                continue
            if kind not in handlers:
                raise UnsupportedGraph(f"operator {kind} (#{k}) is not supported")
            handlers[kind](op)
        return self.finish()

    def finish(self) -> onnx.ModelProto:
        """The ONNX model of the nodes so far: graph input 'input', output 'output', batch 'N'.

        Returns:
            The model, opset OPSET, IR version 8, checked by onnx.checker (full check).

        Raises:
            onnx.checker.ValidationError: the model does not check.
        """
        (i_in,), (i_out,) = [self.g.Inputs(0)], [self.g.Outputs(0)]
        _, h, w, c = self.nhwc(i_in)
        _, oh, ow, oc = self.nhwc(i_out)
        # Rename graph input/output to stable names.
        for n in self.nodes:
            n.input[:] = ["input" if x == self.name(i_in) else x for x in n.input]
            n.output[:] = ["output" if x == self.name(i_out) else x for x in n.output]
        # Only the initializers some node reads (folded DEQUANTIZE sources are dropped).
        used = {x for n in self.nodes for x in n.input}
        inits = [numpy_helper.from_array(v, k) for k, v in sorted(self.inits.items()) if k in used]
        graph = helper.make_graph(
            self.nodes, "selfie_segmentation",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", c, h, w])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", oc, oh, ow])],
            initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="triton-vision-ops segmentation.tflite_to_onnx")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


def convert(tflite_path: Path) -> onnx.ModelProto:
    """ONNX model of a TFLite selfie-segmentation graph.

    Args:
        tflite_path: the .tflite file.

    Returns:
        The model: input 'input' (N, 3, H, W) float32 RGB in [0, 1], output 'output'
        (N, 1, H, W) float32 person probability.

    Raises:
        UnsupportedGraph: the graph uses something this converter does not handle.
    """
    return _Converter(Path(tflite_path).read_bytes()).convert()
