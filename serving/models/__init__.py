"""The operator models: each model.py of model_repository/ is one of these classes.

Every class is a thin adapter from Triton tensors (per-request items, see OpModel) to one
``ops`` call over all items; configuration is parameters in the model's config.pbtxt. Each
class lives in the module of its domain (its ``__module__``); this package names all of
them, as the registry and the model.py files import them.
"""
from .codec import DecodeModel, EncodeMaskModel, EncodeModel
from .filters import BlurModel, MorphologyModel
from .geometry import CenterCropModel, PadModel, ResizeModel, UploadModel
from .matte import RefineMaskModel
from .segmentation import UnetModel
from .tensor import ImageToTensorModel, TensorToMaskModel

__all__ = ["BlurModel", "CenterCropModel", "DecodeModel", "EncodeMaskModel", "EncodeModel",
           "ImageToTensorModel", "MorphologyModel", "PadModel", "RefineMaskModel",
           "ResizeModel", "TensorToMaskModel", "UnetModel", "UploadModel"]
