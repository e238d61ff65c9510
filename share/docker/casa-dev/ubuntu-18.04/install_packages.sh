#!/bin/sh
# Packages added by the casa-dev image (ubuntu 18.04): compilers and build tools.
set -e
apt-get update
apt-get install -y --no-install-recommends \
    build-essential cmake pkg-config gfortran ccache subversion \
    python3-dev python3-sphinx python3-venv doxygen graphviz \
    qtbase5-dev libqt5svg5-dev libqt5opengl5-dev pyqt5-dev-tools \
    libblas-dev liblapack-dev libhdf5-dev libnetcdf-dev libxml2-dev \
    libjpeg-dev libpng-dev libtiff-dev libgl1-mesa-dev libglu1-mesa-dev zlib1g-dev
