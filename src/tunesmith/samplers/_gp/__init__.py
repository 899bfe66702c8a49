"""Building blocks of :class:`~tunesmith.samplers.gp.GPSampler` (private).

* :mod:`.kernel`: features of mixed inputs and the Matérn-5/2 ARD kernel;
* :mod:`.model`: MAP fit of the kernel parameters and the GP posterior;
* :mod:`.targets`: scalarization (ParEGO), output warping and standardization;
* :mod:`.acquisition`: numerically stable log expected improvement;
* :mod:`.batched_lbfgsb`: independent L-BFGS-B runs with batched evaluations;
* :mod:`.optimize`: Sobol' candidates + multi-start L-BFGS-B + discrete search.
"""
