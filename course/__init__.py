"""backprop-course's helper library.

Modules, dependencies one way: ``activations`` -> ``losses`` -> ``layers`` -> ``network``
-> ``training``; ``gradcheck`` and ``data`` stand alone; ``grading`` and ``checks`` serve
the notebooks' test cells; ``flow`` computes and ``widgets`` draws the gradient-flow
explorer.  Import the module you need, e.g. ``from course import network, gradcheck``.
"""

__version__ = "0.1.0"
