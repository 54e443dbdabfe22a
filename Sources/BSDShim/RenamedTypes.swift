// RenamedTypes.swift: the spellings the Swift API had before it settled on
// one casing (`Dmover…`, as in the module names and the C functions). They
// keep existing code compiling, with a fix-it pointing at the new name.

@available(*, deprecated, renamed: "DmoverSession")
public typealias DMoverSession = DmoverSession

@available(*, deprecated, renamed: "DmoverBuffer")
public typealias DMoverBuffer = DmoverBuffer

@available(*, deprecated, renamed: "DmoverOperation")
public typealias DMoverOperation = DmoverOperation

@available(*, deprecated, renamed: "DmoverError")
public typealias DMoverError = DmoverError
