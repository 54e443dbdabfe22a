// SPDX-License-Identifier: BSD-2-Clause
// Version.swift: the tool's version, `bsdshim --version`. It is the project's
// version: keep it equal to project(VERSION) in the top-level CMakeLists.txt
// (the tool ctest fails when they differ).

let bsdshimVersion = "0.1.0"
