"""deeplinear: deep linear networks, alignment and the theory of two papers.

Public names are re-exported here; see the submodules for details.
"""

__version__ = "0.1.0"
