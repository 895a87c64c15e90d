using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Skiff.Images.Tests;



