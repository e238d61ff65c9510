#!/bin/sh
# Packages of the casa-test image (ubuntu 18.04): what BrainVISA software needs at run time.
set -e
apt-get update
apt-get install -y --no-install-recommends \
    ca-certificates curl wget git sudo less nano locales tzdata \
    python3 python3-pip python3-numpy python3-scipy python3-yaml python3-six \
    python3-pyqt5 python3-pyqt5.qtsvg python3-pyqt5.qtopengl \
    libqt5gui5 libqt5opengl5 libqt5svg5 libgl1-mesa-glx libglu1-mesa libxml2 libgomp1 \
    libblas3 liblapack3 libhdf5-100 libnetcdf13 libjpeg-turbo8 libpng16-16 libtiff5 \
    xvfb xauth
