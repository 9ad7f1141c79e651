import Foundation

extension Workload {
    /// The built-in profiles (`--workload NAME`; `conntrack-bench workloads`
    /// lists them), each a file in `Profiles/` a person can copy and edit.
    public static let profileNames = ["syn-flood", "flash-crowd", "diurnal", "mobile-gateway", "port-scan", "nat-pressure"]

    /// Where the profiles' files are: the package's resource folder beside
    /// the executable (or the test bundle), else the sources they were
    /// built from. Looked up here rather than through `Bundle.module`,
    /// which stops the process when it finds neither.
    static let profileDirectory: String? = {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let dir = (exe as NSString).deletingLastPathComponent
            candidates.append(dir + "/conntrack-bench_FlowGen.resources/Profiles")
        }
        candidates.append(((#filePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("Profiles"))
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/syn-flood.yaml") }
    }()

    /// A built-in profile's file, as shipped.
    public static func profileText(_ name: String) -> String? {
        guard profileNames.contains(name), let dir = profileDirectory,
              let data = FileManager.default.contents(atPath: "\(dir)/\(name).yaml") else { return nil }
        return String(data: data, encoding: .utf8)
    }

    /// A built-in profile by name, or a file by path (a spec with a '/' or
    /// ending in .yaml or .yml is a path).
    public static func load(_ spec: String) throws(WorkloadError) -> Workload {
        let isPath = spec.contains("/") || spec.hasSuffix(".yaml") || spec.hasSuffix(".yml")
        if !isPath {
            guard profileNames.contains(spec) else {
                throw WorkloadError("--workload: '\(spec)' is neither a file nor a profile (profiles: \(profileNames.joined(separator: ", ")); a file's name ends in .yaml)")
            }
            guard let text = profileText(spec) else {
                throw WorkloadError("--workload: the built-in profiles' files are missing (conntrack-bench_FlowGen.resources beside the executable); give a workload file instead")
            }
            return try parse(yaml: text, file: "profile \(spec)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isDir) else {
            throw WorkloadError("--workload: \(spec): no such file or directory")
        }
        guard !isDir.boolValue, let attrs = try? FileManager.default.attributesOfItem(atPath: spec),
              attrs[.type] as? FileAttributeType == .typeRegular else {
            throw WorkloadError("--workload: \(spec): not a regular file")
        }
        guard let size = attrs[.size] as? Int, size <= 1 << 20 else {
            throw WorkloadError("--workload: \(spec): larger than 1 MiB; a workload file is a few dozen lines")
        }
        guard let data = FileManager.default.contents(atPath: spec), let text = String(data: data, encoding: .utf8) else {
            throw WorkloadError("--workload: \(spec): cannot be read as UTF-8 text")
        }
        return try parse(yaml: text, file: spec)
    }
}
