"""Registry of the shipped network descriptions (pure data, see spec.py)."""
from ..errors import RefimplError
from .alexnet import ALEXNET, ALEXNET_CIFAR
from .resnet50 import RESNET50
from .vgg16 import VGG16

NETWORKS = {net.name: net for net in (ALEXNET, ALEXNET_CIFAR, VGG16, RESNET50)}


def get(name: str):
    """NetworkSpec by name; unknown names give a RefimplError listing the choices."""
    if name not in NETWORKS:
        raise RefimplError(f"unknown network '{name}' (choose from: {', '.join(NETWORKS)})")
    return NETWORKS[name]
