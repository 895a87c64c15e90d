using Skiff.Linux;
using Skiff.Runtime.Seccomp;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Tests;

/// <summary>Compiles profiles and runs the BPF in a small classic-BPF interpreter against synthetic seccomp_data.</summary>
public sealed class SeccompCompilerTests
{
    private const uint Allow = 0x7fff0000, Errno = 0x00050000, X86_64 = 0xC000003E, I386 = 0x40000003;

    private static uint Run(Libc.SockFilter[] prog, int nr, uint arch = X86_64, params ulong[] args)
    {
        byte[] data = new byte[64];
        BitConverter.TryWriteBytes(data.AsSpan(0), nr);
        BitConverter.TryWriteBytes(data.AsSpan(4), arch);
        for (int i = 0; i < args.Length; i++) BitConverter.TryWriteBytes(data.AsSpan(16 + 8 * i), args[i]);
        uint a = 0;
        for (int pc = 0; pc < prog.Length; pc++)
        {
            var ins = prog[pc];
            switch (ins.Code)
            {
                case 0x20: a = BitConverter.ToUInt32(data, (int)ins.K); break;
                case 0x54: a &= ins.K; break;
                case 0x15: pc += a == ins.K ? ins.Jt : ins.Jf; break;
                case 0x25: pc += a > ins.K ? ins.Jt : ins.Jf; break;
                case 0x35: pc += a >= ins.K ? ins.Jt : ins.Jf; break;
                case 0x06: return ins.K;
                case 0x05: pc += (int)ins.K; break;
                default: throw new InvalidOperationException($"opcode {ins.Code:x}");
            }
        }
        throw new InvalidOperationException("fell off the program");
    }

    private static int Nr(string name) => SyscallTable.X86_64[name];

    [Fact]
    public void DockerDefaultProfileAllowsCommonSyscallsAndRefusesPrivilegedOnes()
    {
        var prog = SeccompCompiler.Compile(DefaultSeccomp.Profile(Capabilities.DockerDefault));
        Assert.Equal(Allow, Run(prog, Nr("read")));
        Assert.Equal(Allow, Run(prog, Nr("execve")));
        Assert.Equal(Allow, Run(prog, Nr("chroot")));
        Assert.Equal(Errno | 1, Run(prog, Nr("mount")));
        Assert.Equal(Errno | 1, Run(prog, Nr("unshare")));
        Assert.Equal(Errno | 1, Run(prog, Nr("kexec_load")));
    }

    [Fact]
    public void NewerSyscallsGetEnosysSoLibcFallsBack()
    {
        var prog = SeccompCompiler.Compile(DefaultSeccomp.Profile(Capabilities.DockerDefault));
        Assert.Equal(Errno | 38, Run(prog, Nr("clone3")));
        Assert.Equal(Errno | 38, Run(prog, 470));
    }

    [Fact]
    public void ArgumentConditionsAreChecked()
    {
        var prog = SeccompCompiler.Compile(DefaultSeccomp.Profile(Capabilities.DockerDefault));
        Assert.Equal(Allow, Run(prog, Nr("clone"), X86_64, 0x01200011));          // fork()-like flags
        Assert.Equal(Errno | 1, Run(prog, Nr("clone"), X86_64, 0x10000000));     // CLONE_NEWUSER
        Assert.Equal(Allow, Run(prog, Nr("personality"), X86_64, 0xffffffff));
        Assert.Equal(Errno | 1, Run(prog, Nr("personality"), X86_64, 0x0040000));
        Assert.Equal(Errno | 1, Run(prog, Nr("personality"), X86_64, 0x1_0000_0000)); // high word differs
    }

    [Fact]
    public void CapSysAdminEnablesMountAndUnrestrictedClone()
    {
        var prog = SeccompCompiler.Compile(DefaultSeccomp.Profile([.. Capabilities.DockerDefault, "CAP_SYS_ADMIN"]));
        Assert.Equal(Allow, Run(prog, Nr("mount")));
        Assert.Equal(Allow, Run(prog, Nr("clone"), X86_64, 0x10000000));
        Assert.Equal(Allow, Run(prog, Nr("clone3")));
    }

    [Fact]
    public void I386SyscallsAreFilteredWithTheirOwnNumbers()
    {
        var prog = SeccompCompiler.Compile(DefaultSeccomp.Profile(Capabilities.DockerDefault));
        Assert.Equal(Allow, Run(prog, 3, I386));          // read
        Assert.Equal(Allow, Run(prog, 102, I386));        // socketcall
        Assert.Equal(Errno | 1, Run(prog, 21, I386));     // mount
        Assert.Equal(Errno | 38, Run(prog, 435, I386));   // clone3
        Assert.Equal(Errno | 1, Run(prog, 120, I386, 0x10000000)); // clone with CLONE_NEWUSER
    }

    [Fact]
    public void OtherArchitecturesAndX32GetTheDefaultAction()
    {
        var prog = SeccompCompiler.Compile(DefaultSeccomp.Profile(Capabilities.DockerDefault));
        Assert.Equal(Errno | 1, Run(prog, 63, 0xC00000B7));   // aarch64 read
        Assert.Equal(Errno | 1, Run(prog, 0x40000000 | 0));    // x32 read
        var x86Only = new OciSeccomp { DefaultAction = "SCMP_ACT_ERRNO", Architectures = ["SCMP_ARCH_X86_64"], Syscalls = [new() { Names = ["read"] }] };
        Assert.Equal(Errno | 1, Run(SeccompCompiler.Compile(x86Only), 3, I386));
    }

    [Theory]
    [InlineData("SCMP_CMP_NE", 5UL, 0UL, 5UL, false)]
    [InlineData("SCMP_CMP_NE", 5UL, 0UL, 6UL, true)]
    [InlineData("SCMP_CMP_GE", 5UL, 0UL, 5UL, true)]
    [InlineData("SCMP_CMP_GE", 5UL, 0UL, 4UL, false)]
    [InlineData("SCMP_CMP_GT", 5UL, 0UL, 5UL, false)]
    [InlineData("SCMP_CMP_GT", 0x1_0000_0000UL, 0UL, 0x1_0000_0001UL, true)]
    [InlineData("SCMP_CMP_LT", 5UL, 0UL, 4UL, true)]
    [InlineData("SCMP_CMP_LT", 5UL, 0UL, 0x1_0000_0000UL, false)]
    [InlineData("SCMP_CMP_LE", 5UL, 0UL, 5UL, true)]
    [InlineData("SCMP_CMP_LE", 5UL, 0UL, 6UL, false)]
    [InlineData("SCMP_CMP_MASKED_EQ", 0xF0UL, 0x10UL, 0x1FUL, true)]
    [InlineData("SCMP_CMP_MASKED_EQ", 0xF0UL, 0x10UL, 0x2FUL, false)]
    public void ComparisonOperatorsUse64BitSemantics(string op, ulong value, ulong valueTwo, ulong arg, bool allowed)
    {
        var profile = new OciSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Syscalls = [new OciSyscall { Names = ["write"], Action = "SCMP_ACT_ALLOW", Args = [new() { Index = 2, Value = value, ValueTwo = valueTwo, Op = op }] }],
        };
        var prog = SeccompCompiler.Compile(profile);
        Assert.Equal(allowed ? Allow : Errno | 1, Run(prog, Nr("write"), X86_64, 0, 0, arg));
    }
}
